#include "net/client.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/nn/modules/container/sequential.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdlib>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>

#include "client_part.hpp"
#include "convolution_backend.hpp"
#include "psl/api/protocol.hpp"
#include "experiment_parts.hpp"
#include "learning_rate.hpp"
#include "manifest.hpp"
#include "net/client_connection.hpp"
#include "net/wire.hpp"
#include "process_settings.hpp"
#include "run_folder.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"
#include "step_planner.hpp"

namespace psl::net {

namespace {

std::string read_token(const std::string& file) {
  if (file.empty()) return "";
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the token file", file));
  std::string token;
  std::getline(in, token);
  return token;
}

// The version of its part does not match what the server expects (a message was lost
// with a connection): the client says so and reconnects, and the server sets it right.
class OutOfStep : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Everything the client computes once from the manifest, and its part of the model.
struct Side {
  Experiment experiment;
  ClientSide data;
  std::optional<ClientPart> part;
  PartLayout layout = PartLayout::Shared;
  bool without_onednn = false;  // convolution_backend.hpp
  std::string run_id;
  std::int64_t epoch = -1;
  std::vector<std::int64_t> order;
};

class Client {
 public:
  explicit Client(const ClientOptions& o) : o_(o), token_(read_token(o.token_file)) {}

  int run() {
    // Killed or not, a psl run that is gone takes its clients with it, instead of
    // leaving them to retry the connection for a minute.
    if (o_.parent_pid > 0 && !exit_with_parent(o_.parent_pid)) return 1;
    configure_process(o_.threads);
    const auto patience = std::chrono::duration<double>(o_.connect_timeout_s);
    auto deadline = std::chrono::steady_clock::now() + patience;
    std::string last_error = "no attempt";
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<ClientConnection> c;
      try {
        c.emplace(o_.connect, o_.tls, o_.read_timeout_s);
        c->hold_writes(o_.emulate_latency_s);
      } catch (const boost::system::system_error& e) {
        last_error = e.what();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      try {
        if (const auto status = serve(*c)) return *status;
      } catch (const boost::system::system_error& e) {
        last_error = fmt::format("connection lost: {}", e.what());
        say(last_error + "; reconnecting");
        // A full grace period from the loss of a connection that worked; a server that
        // accepts and never answers gets none.
        if (std::exchange(welcomed_, false)) deadline = std::chrono::steady_clock::now() + patience;
      } catch (const OutOfStep& e) {
        say(std::string(e.what()) + "; reconnecting");
        try {
          c->write(MsgType::Error, encode_text(MsgType::Error, e.what()));
        } catch (const boost::system::system_error&) {  // gone already: reconnecting says the same
        }
        welcomed_ = false;
        deadline = std::chrono::steady_clock::now() + patience;
      }
    }
    fmt::print(stderr, "psl client {}: giving up on {} after {} s: {}\n", o_.id, o_.connect, o_.connect_timeout_s,
               last_error);
    return 1;
  }

 private:
  // Returns an exit status when the run is over for this client; throws on a lost connection.
  std::optional<int> serve(ClientConnection& c) {
    Hello hello;
    hello.client = o_.id;
    hello.token = token_;
    c.write(MsgType::Hello, encode(hello));
    auto [type, payload] = c.read();
    if (type == MsgType::Reject) {
      fmt::print(stderr, "psl client {}: the server refused: {}\n", o_.id, decode_text(payload));
      return 1;
    }
    if (type != MsgType::Welcome) throw ProtocolError(fmt::format("expected Welcome, got {}", to_string(type)));
    welcomed_ = true;
    if (!side_) setup(decode_text(payload));
    ClientPart& part = *side_->part;
    c.write(MsgType::Ready, encode_ready(part.version));
    say(fmt::format("connected to {} (client part version {})", o_.connect, part.version));

    pending_ = at::Tensor();
    std::int64_t pending_step = -1;
    for (;;) {
      auto [t, p] = c.read();
      switch (t) {
        case MsgType::StepRequest: {
          ++steps_answered_;
          if (o_.exit_after_steps > 0 && steps_answered_ > o_.exit_after_steps) {
            say(fmt::format("exiting after {} steps, as asked (--exit-after-steps)", o_.exit_after_steps));
            std::_Exit(3);
          }
          const StepRequest r = decode_step_request(p);
          expect_version(r.version);
          const auto started = std::chrono::steady_clock::now();
          auto [x, y] = samples(r);
          {
            const OneDnnOffScope backend(side_->without_onednn);
            pending_ = part.module->forward(x);
          }
          pace(started, r.count);
          pending_step = r.step;
          c.write(MsgType::Activations, encode(Activations{r.step, pending_.detach(), y}));
          break;
        }
        case MsgType::Gradient: {
          if (o_.exit_at_gradient > 0 && steps_answered_ >= o_.exit_at_gradient) {
            say(fmt::format("exiting on the gradient of step {}, as asked (--exit-at-gradient)", steps_answered_));
            std::_Exit(3);
          }
          const Gradient g = decode_gradient(p);
          if (g.step != pending_step) throw ProtocolError(fmt::format("gradient for step {}, expected {}", g.step, pending_step));
          const auto started = std::chrono::steady_clock::now();
          const auto [answer, bytes] = backward(g);
          pace(started, g.gradient.size(0));
          c.write(answer, bytes);
          pending_ = at::Tensor();
          break;
        }
        case MsgType::Update: {  // shared: the step's summed parameter gradient
          const SharedUpdate u = decode_shared_update(p);
          expect_version(u.version);
          auto params = part.module->parameters();
          if (u.grads.size() != params.size())
            throw ProtocolError(fmt::format("an update of {} tensors for {} parameters", u.grads.size(), params.size()));
          for (std::size_t i = 0; i < params.size(); ++i) {
            if (u.grads[i].sizes() != params[i].sizes()) throw ProtocolError(fmt::format("update {} has the wrong shape", i));
            params[i].mutable_grad() = u.grads[i];
          }
          set_learning_rate(*part.optimizer, u.lr);  // the rate the server's copy steps at
          part.optimizer->step();
          ++part.version;
          break;
        }
        case MsgType::PartRequest: {
          const PartRequest r = decode_part_request(p);
          const bool state = r.kind == PartKind::State;
          c.write(state ? MsgType::PartState : MsgType::PartWeights,
                  encode(PartTensors{r.step, part.version, state ? part.state() : part.weights()}));
          break;
        }
        case MsgType::PartState: {  // the part the run expects this client to hold
          const PartTensors s = decode_part_tensors(p);
          take_part(s.tensors, s.version);
          break;
        }
        case MsgType::Average: {  // fedavg: the clients' averaged weights
          const PartTensors a = decode_part_tensors(p);
          expect_version(a.version);
          set_weights(a.tensors);
          ++part.version;
          keep_part();
          break;
        }
        case MsgType::Shutdown:
          say("run finished: " + decode_text(p));
          return 0;
        case MsgType::Error:
          fmt::print(stderr, "psl client {}: server error: {}\n", o_.id, decode_text(p));
          return 1;
        case MsgType::Heartbeat:
          break;
        default:
          throw ProtocolError(fmt::format("unexpected {} frame", to_string(t)));
      }
    }
  }

  // Back-propagates the server's gradient through the part; the answer depends on the
  // layout: the parameter gradients (shared) or, after its own optimizer step, StepDone.
  std::pair<MsgType, std::vector<std::uint8_t>> backward(const Gradient& g) {
    ClientPart& part = *side_->part;
    if (side_->layout == PartLayout::Shared) {
      for (auto& param : part.module->parameters()) param.mutable_grad() = at::Tensor();
      pending_backward(g);
      ClientGrads out{g.step, {}};
      for (const auto& param : part.module->parameters())
        out.grads.push_back(param.grad().defined() ? param.grad() : at::zeros_like(param));
      return {MsgType::ClientGrads, encode(out)};
    }
    part.optimizer->zero_grad();
    pending_backward(g);
    set_learning_rate(*part.optimizer, g.lr);  // the run's rate for this step (training.lr_schedule)
    part.optimizer->step();
    ++part.version;
    keep_part();
    return {MsgType::StepDone, encode(StepDone{g.step, part.version})};
  }
  void pending_backward(const Gradient& g) {
    if (g.gradient.sizes() != pending_.sizes()) throw ProtocolError("a gradient of the wrong shape");
    const OneDnnOffScope backend(side_->without_onednn);
    pending_.backward(g.gradient);
  }

  void setup(const std::string& manifest_text) {
    // The manifest arrives as text; the loader wants a file.
    const auto file = std::filesystem::temp_directory_path() / fmt::format("psl-client-{}-{}.toml", ::getpid(), o_.id);
    std::ofstream(file) << manifest_text;
    auto ex = load_experiment(file, {}, registry_);
    std::filesystem::remove(file);
    side_.emplace();
    side_->experiment = std::move(ex);
    side_->run_id = run_id_of(manifest_text);
    const auto& t = side_->experiment.training_settings;
    const ProtocolShape shape = build<Protocol>(side_->experiment, registry_, Kind::Protocol)->shape();
    side_->layout = shape.clients;
    side_->data = build_client_side(side_->experiment, registry_, o_.id);
    // The same seeded build as the server's: the initial part never crosses the network.
    auto network = initial_network(side_->experiment, *side_->data.model, *side_->data.dataset);
    side_->part.emplace(network.client, with_lr_scale(optimizer_settings(t), shape.client_lr_scale));
    side_->without_onednn = runs_without_onednn(network.client);
    load_kept_part();
    // A lazy data set reads its features on first use: now, before saying Ready, so that
    // loading is not part of the first step (as in a simulated run).
    if (!side_->data.shard.empty()) side_->data.dataset->features(Split::Train, {side_->data.shard.front()});
  }

  void expect_version(std::int64_t version) const {
    if (version != side_->part->version)
      throw OutOfStep(fmt::format("the server expects client part version {}, this client holds {}", version,
                                  side_->part->version));
  }
  void set_weights(const std::vector<at::Tensor>& weights) {
    try {
      side_->part->set_weights(weights);
    } catch (const std::invalid_argument& e) {
      throw ProtocolError(e.what());
    }
  }
  void take_part(const std::vector<at::Tensor>& state, std::int64_t version) {
    try {
      side_->part->set_state(state);
    } catch (const std::invalid_argument& e) {
      throw ProtocolError(e.what());
    }
    side_->part->version = version;
    keep_part();
  }

  // --state-dir: a client that owns its part (local, fedavg) writes it after every
  // change, so that a restarted process holds what it held. In shared sync the server
  // has the part and gives it back.
  std::filesystem::path part_file() const {
    return std::filesystem::path(o_.state_dir) / fmt::format("client-{}.part", o_.id);
  }
  void keep_part() const {
    if (o_.state_dir.empty() || side_->layout == PartLayout::Shared) return;
    std::filesystem::create_directories(o_.state_dir);
    Writer w;
    w.str(side_->run_id);
    const PartTensors kept{0, side_->part->version, side_->part->state()};
    const auto body = encode(kept);
    w.bytes.insert(w.bytes.end(), body.begin(), body.end());
    write_file_atomic(part_file(), std::string(w.bytes.begin(), w.bytes.end()), 0600);
  }
  void load_kept_part() {
    if (o_.state_dir.empty() || side_->layout == PartLayout::Shared || !std::filesystem::exists(part_file())) return;
    const std::string bytes = read_file(part_file());
    try {
      Reader r(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      const std::string run_id = r.str(256);
      if (run_id != side_->run_id) {
        say(fmt::format("{} belongs to another run; starting from the initial part", part_file().string()));
        return;
      }
      const std::size_t header = bytes.size() - r.remaining();
      const PartTensors kept = decode_part_tensors({bytes.begin() + std::ptrdiff_t(header), bytes.end()});
      side_->part->set_state(kept.tensors);
      side_->part->version = kept.version;
      say(fmt::format("holding client part version {} from {}", kept.version, part_file().string()));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: not a client part this client can use ({}); remove it to start over",
                                           part_file().string(), e.what()));
    }
  }

  std::pair<at::Tensor, at::Tensor> samples(const StepRequest& r) {
    if (r.epoch != side_->epoch) {
      side_->order = side_->data.shard;
      shuffle_client_order(side_->order, std::uint64_t(side_->experiment.seed), r.epoch, o_.id);
      side_->epoch = r.epoch;
    }
    if (r.offset < 0 || r.count <= 0 || r.offset + r.count > std::int64_t(side_->order.size()))
      throw ProtocolError(fmt::format("samples [{}, {}) requested, the shard has {}", r.offset, r.offset + r.count,
                                      side_->order.size()));
    std::vector<std::int64_t> idx(side_->order.begin() + r.offset, side_->order.begin() + r.offset + r.count);
    const auto& labels = side_->data.dataset->labels(Split::Train);
    std::vector<std::int64_t> y;
    for (auto i : idx) y.push_back(labels[std::size_t(i)]);
    return {side_->data.dataset->features(Split::Train, idx), at::tensor(y, at::kLong)};
  }

  // An emulated slow device: a pass over `samples` samples takes at least half their
  // compute time (the other half is the other pass).
  void pace(std::chrono::steady_clock::time_point started, std::int64_t samples) const {
    if (o_.pace_compute_s_per_sample <= 0) return;
    std::this_thread::sleep_until(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(0.5 * double(samples) *
                                                                              o_.pace_compute_s_per_sample)));
  }

  void say(const std::string& line) const {
    if (!o_.quiet) fmt::print(stderr, "psl client {}: {}\n", o_.id, line);
  }

  const ClientOptions& o_;
  std::string token_;
  Registry registry_;
  std::optional<Side> side_;
  at::Tensor pending_;  // activations of the step in flight, with their autograd graph
  std::int64_t steps_answered_ = 0;
  bool welcomed_ = false;  // the current connection got through the handshake
};

}  // namespace

int run_client(const ClientOptions& options) {
  try {
    return Client(options).run();
  } catch (const ManifestError& e) {
    fmt::print(stderr, "psl client {}: the server's manifest does not load here:\n{}\n", options.id, e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "psl client {}: {}\n", options.id, e.what());
  }
  return 1;
}

}  // namespace psl::net
