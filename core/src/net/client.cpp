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

#include "experiment_parts.hpp"
#include "manifest.hpp"
#include "net/client_connection.hpp"
#include "net/wire.hpp"
#include "process_settings.hpp"
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

// Everything the client computes once from the manifest.
struct Side {
  Experiment experiment;
  ClientSide data;
  torch::nn::Sequential model{nullptr};
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
    c.write(MsgType::Ready, {});
    say(fmt::format("connected to {}", o_.connect));

    at::Tensor pending;  // activations of the step in flight
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
          load_weights(r.weights);
          auto [x, y] = samples(r);
          pending = side_->model->forward(x);
          pending_step = r.step;
          c.write(MsgType::Activations, encode(Activations{r.step, pending.detach(), y}));
          break;
        }
        case MsgType::Gradient: {
          if (o_.exit_at_gradient > 0 && steps_answered_ >= o_.exit_at_gradient) {
            say(fmt::format("exiting on the gradient of step {}, as asked (--exit-at-gradient)", steps_answered_));
            std::_Exit(3);
          }
          const Gradient g = decode_gradient(p);
          if (g.step != pending_step) throw ProtocolError(fmt::format("gradient for step {}, expected {}", g.step, pending_step));
          for (auto& param : side_->model->parameters()) param.mutable_grad() = at::Tensor();
          pending.backward(g.gradient);
          ClientGrads out{g.step, {}};
          for (const auto& param : side_->model->parameters())
            out.grads.push_back(param.grad().defined() ? param.grad() : at::zeros_like(param));
          c.write(MsgType::ClientGrads, encode(out));
          pending = at::Tensor();
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

  void setup(const std::string& manifest_text) {
    // The manifest arrives as text; the loader wants a file.
    const auto file = std::filesystem::temp_directory_path() / fmt::format("psl-client-{}-{}.toml", ::getpid(), o_.id);
    std::ofstream(file) << manifest_text;
    auto ex = load_experiment(file, {}, registry_);
    std::filesystem::remove(file);
    side_.emplace();
    side_->experiment = std::move(ex);
    side_->data = build_client_side(side_->experiment, registry_, o_.id);
    side_->model = side_->data.model->build(side_->data.dataset->sample_shape(), side_->data.dataset->num_classes()).client;
    // A lazy data set reads its features on first use: now, before saying Ready, so that
    // loading is not part of the first step (as in a simulated run).
    if (!side_->data.shard.empty()) side_->data.dataset->features(Split::Train, {side_->data.shard.front()});
  }

  void load_weights(const std::vector<at::Tensor>& weights) {
    at::NoGradGuard guard;
    auto params = side_->model->parameters();
    auto buffers = side_->model->buffers();
    if (weights.size() != params.size() + buffers.size())
      throw ProtocolError(fmt::format("{} weight tensors, expected {}", weights.size(), params.size() + buffers.size()));
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(weights[i]);
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(weights[params.size() + i]);
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

  void say(const std::string& line) const {
    if (!o_.quiet) fmt::print(stderr, "psl client {}: {}\n", o_.id, line);
  }

  const ClientOptions& o_;
  std::string token_;
  Registry registry_;
  std::optional<Side> side_;
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
