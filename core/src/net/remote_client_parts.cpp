#include "net/remote_client_parts.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "learning_rate.hpp"

namespace psl::net {

namespace {
using Clock = std::chrono::steady_clock;

double bytes_of(const std::vector<at::Tensor>& tensors) {
  double n = 0;
  for (const auto& t : tensors) n += double(t.nbytes());
  return n;
}

double seconds_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

// Every value a client sends is finite and within the bound: one client's garbage must
// never reach the shared weights (nor be blamed on the next client to send activations).
std::string out_of_bounds(const at::Tensor& t, double bound, const std::string& what) {
  if (t.numel() == 0 || !t.is_floating_point()) return "";
  // The common case, a contiguous float tensor within the bound, in one pass without
  // temporaries. The tensor operations below (and the labels' min and max) took 6.4 ms
  // of a step with 8 clients, decoding included, where every client's activations wait;
  // this pass and the decoding take 1.1 ms. They stay to name what is wrong.
  if (t.scalar_type() == at::kFloat && t.is_contiguous()) {
    const float* x = t.data_ptr<float>();
    std::int64_t outside = 0;  // NaN fails both comparisons, infinity the first
    for (std::int64_t i = 0, n = t.numel(); i < n; ++i) {
      const double a = std::fabs(double(x[i]));
      outside += !(a <= double(std::numeric_limits<float>::max()) && a <= bound);
    }
    if (outside == 0) return "";
  }
  if (!at::isfinite(t).all().item<bool>()) return what + " that are not finite";
  const double largest = t.abs().max().item<double>();
  if (largest > bound) return fmt::format("{} with a value of {:g} (transport.max_client_value = {:g})", what, largest, bound);
  return "";
}

// Labels are class indices in [0, classes) (int64, checked by the caller).
bool labels_in_range(const at::Tensor& labels, std::int64_t classes) {
  const at::Tensor held = labels.contiguous();
  const auto* y = held.data_ptr<std::int64_t>();
  return std::all_of(y, y + held.numel(), [classes](std::int64_t c) { return c >= 0 && c < classes; });
}

// Tensors that must match `want` in type and shape, each finite and within the bound.
std::string check_tensors(const std::vector<at::Tensor>& got, const std::vector<at::Tensor>& want, double bound,
                          const std::string& what) {
  if (got.size() != want.size()) return fmt::format("{} {} tensors, expected {}", got.size(), what, want.size());
  for (std::size_t p = 0; p < want.size(); ++p)
    if (got[p].scalar_type() != want[p].scalar_type() || got[p].sizes() != want[p].sizes())
      return fmt::format("{} tensor {} of shape [{}], expected [{}]", what, p, fmt::join(got[p].sizes(), ", "),
                         fmt::join(want[p].sizes(), ", "));
  for (std::size_t p = 0; p < got.size(); ++p)
    if (auto problem = out_of_bounds(got[p], bound, fmt::format("{} tensor {}", what, p)); !problem.empty()) return problem;
  return "";
}
}  // namespace

RemoteClientParts::RemoteClientParts(TcpServer& server, RemoteOptions options, RemoteHooks hooks, PartLayout layout,
                                     torch::nn::Sequential initial, const OptimizerSettings& optimizer,
                                     std::int64_t clients)
    : server_(server),
      options_(std::move(options)),
      hooks_(std::move(hooks)),
      layout_(layout),
      part_(std::move(initial), optimizer),
      base_lr_(optimizer.lr),
      lr_(optimizer.lr),
      expected_(std::size_t(clients), 0),
      seen_(std::size_t(clients), 0),
      gone_(std::size_t(clients), 0),
      restorable_(std::size_t(clients)) {}

bool RemoteClientParts::bring_up_to_date(std::int64_t k, std::string& why) {
  if (gone_[std::size_t(k)]) {
    why = "it left the run earlier";
    return false;
  }
  const auto c = server_.connection(k);
  if (c.number == seen_[std::size_t(k)]) return true;
  seen_[std::size_t(k)] = c.number;
  const std::int64_t want = expected_[std::size_t(k)];
  if (c.part_version == want) return true;
  const auto& stored = restorable_[std::size_t(k)];
  if (layout_ == PartLayout::Shared || (stored && stored->version == want)) {
    // The server has the part the client should hold: give it (weights and optimizer state).
    PartTensors state{last_step_, want, layout_ == PartLayout::Shared ? part_.state() : stored->tensors};
    server_.send(k, MsgType::PartState, encode(state));
    hooks_.log(fmt::format("client {} holds client part version {}, the run is at {}: sent it the part", k,
                           c.part_version, want));
    return true;
  }
  why = fmt::format(
      "it holds client part version {} and the run is at version {}, which only the client held (a client started "
      "with --state-dir keeps its part across restarts)",
      c.part_version, want);
  return false;
}

bool RemoteClientParts::request(const PlannedStep& step, std::size_t i) {
  const std::int64_t k = step.takes[i].client;
  std::string why;
  if (!bring_up_to_date(k, why)) {
    refuse(k, step.step, why);
    return false;
  }
  StepRequest r{step.step, step.epoch, step.offsets[i], step.takes[i].count, expected_[std::size_t(k)]};
  sent_at_[i] = Clock::now();
  server_.send(k, MsgType::StepRequest, encode(r));
  return true;
}

void RemoteClientParts::send_gradient(const PlannedStep& step, std::size_t i) {
  sent_at_[i] = Clock::now();
  events_.bytes.gradients += double(gradients_[i].nbytes());
  server_.send(step.takes[i].client, MsgType::Gradient, encode(Gradient{step.step, gradients_[i], lr_}));
}

bool RemoteClientParts::handle_loss(std::int64_t k, std::int64_t step, const std::string& why) {
  const ClientLossPolicy policy = options_.on_client_loss;
  if (policy == ClientLossPolicy::Drop) {
    hooks_.log(fmt::format("client {} lost at step {} ({}); on_client_loss = drop: its remaining samples leave the run",
                           k, step, why));
    gone_[std::size_t(k)] = 1;
    events_.dropped.push_back(k);
    ++dropped_;
    return false;
  }
  if (policy == ClientLossPolicy::Wait) {
    hooks_.log(fmt::format("client {} lost at step {} ({}); on_client_loss = wait: waiting up to {} s for it to reconnect",
                           k, step, why, options_.step_timeout_s));
    // A process we started may take a moment to be seen as ended after its connection
    // drops: look again while waiting.
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.step_timeout_s);
    for (;;) {
      if (hooks_.restart) hooks_.restart(k);
      const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) break;
      if (server_.wait_connected(k, std::min(left, 0.5))) {
        hooks_.log(fmt::format("client {} is back; step {} goes on", k, step));
        return true;
      }
    }
    throw ClientLost(fmt::format("client {} did not reconnect within {} s (on_client_loss = wait)", k,
                                 options_.step_timeout_s));
  }
  throw ClientLost(fmt::format("client {} lost at step {}: {} (on_client_loss = abort)", k, step, why));
}

void RemoteClientParts::refuse(std::int64_t k, std::int64_t step, const std::string& problem) {
  // Not waited for: dropped, or the run stops.
  if (options_.on_client_loss == ClientLossPolicy::Drop) {
    handle_loss(k, step, problem);
    return;
  }
  throw ClientLost(fmt::format("client {} at step {}: {}", k, step, problem));
}

bool RemoteClientParts::await(std::int64_t k, std::int64_t step, MsgType type, Frame& out,
                              const std::function<Retry()>& again) {
  for (;;) {
    const auto result = server_.receive(k, options_.step_timeout_s, out);
    if (result == TcpServer::Result::Frame) {
      // Every answer starts with its step: drop answers to an earlier step (a client
      // that reconnected may still send one).
      std::int64_t frame_step = step;
      if (out.payload.size() >= 8) std::memcpy(&frame_step, out.payload.data(), 8);
      if (out.type == type && frame_step >= step) return true;
      hooks_.log(fmt::format("client {}: {} for step {} while waiting for {} of step {}; ignored", k, to_string(out.type),
                             frame_step, to_string(type), step));
      continue;
    }
    const std::string why = result == TcpServer::Result::Lost
                                ? "disconnected"
                                : fmt::format("no answer within {} s", options_.step_timeout_s);
    if (!handle_loss(k, step, why)) return false;
    const Retry retry = again();  // back ("wait")
    if (retry != Retry::Resent) return retry == Retry::Answered;
  }
}

ClientOutputs RemoteClientParts::forward(const PlannedStep& step) {
  auto phase_start = Clock::now();
  const std::size_t n = step.takes.size();
  last_step_ = step.step;
  gradients_.assign(n, at::Tensor());
  present_.clear();
  sent_at_.assign(n, {});
  client_s_.assign(n, 0.0);
  std::vector<char> asked(n, 0);
  for (std::size_t i = 0; i < n; ++i) asked[i] = request(step, i);

  ClientOutputs out;
  std::vector<at::Tensor> labels;
  for (std::size_t i = 0; i < n; ++i) {
    if (!asked[i]) continue;
    const std::int64_t k = step.takes[i].client;
    Frame f;
    const auto again = [&] { return request(step, i) ? Retry::Resent : Retry::Lost; };
    if (!await(k, step.step, MsgType::Activations, f, again)) continue;
    client_s_[i] += std::chrono::duration<double>(f.received_at - sent_at_[i]).count();
    Activations a;
    std::string problem;
    try {
      a = decode_activations(f.payload);
      std::vector<std::int64_t> want = {step.takes[i].count};
      want.insert(want.end(), options_.activation_shape.begin(), options_.activation_shape.end());
      if (a.step != step.step) problem = fmt::format("activations for step {}, expected {}", a.step, step.step);
      else if (a.activations.scalar_type() != at::kFloat || a.activations.sizes().vec() != want)
        problem = fmt::format("activations of shape [{}], expected [{}]", fmt::join(a.activations.sizes(), ", "), fmt::join(want, ", "));
      else if (a.labels.scalar_type() != at::kLong || a.labels.dim() != 1 || a.labels.size(0) != step.takes[i].count)
        problem = "labels of the wrong type or count";
      else if (!labels_in_range(a.labels, options_.num_classes))
        problem = "labels out of range";
      else
        problem = out_of_bounds(a.activations, options_.max_value, "activations");
    } catch (const ProtocolError& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      refuse(k, step.step, "sent " + problem);
      continue;
    }
    events_.bytes.activations += double(a.activations.nbytes() + a.labels.nbytes());
    out.pieces.push_back(a.activations);
    labels.push_back(a.labels);
    present_.push_back(i);
  }
  if (!labels.empty()) out.labels = at::cat(labels);
  phases_.activations += seconds_since(phase_start);
  return out;
}

bool RemoteClientParts::redo_take(const PlannedStep& step, std::size_t i) {
  const std::int64_t k = step.takes[i].client;
  Frame again;
  const auto ask = [&] { return request(step, i) ? Retry::Resent : Retry::Lost; };
  if (ask() == Retry::Lost || !await(k, step.step, MsgType::Activations, again, ask)) return false;
  send_gradient(step, i);
  return true;
}

void RemoteClientParts::backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) {
  auto phase_start = Clock::now();
  for (std::size_t j = 0; j < present_.size(); ++j) {
    gradients_[present_[j]] = gradients[j].contiguous();
    send_gradient(step, present_[j]);
  }
  const bool shared = layout_ == PartLayout::Shared;
  std::vector<at::Tensor> sum;  // Shared: the step's parameter gradients, added in take order
  if (shared) {
    torch::NoGradGuard guard;
    for (const auto& p : part_.module->parameters()) sum.push_back(at::zeros_like(p));
  }
  const auto params = part_.module->parameters();
  const std::vector<at::Tensor> param_list(params.begin(), params.end());
  std::size_t answered = 0;
  for (const std::size_t i : present_) {
    const std::int64_t k = step.takes[i].client;
    auto& expected = expected_[std::size_t(k)];
    Frame f;
    const auto again = [&] {
      // A client that had stepped its own part before it was lost is done with the step.
      if (!shared && server_.connection(k).part_version == expected + 1) {
        seen_[std::size_t(k)] = server_.connection(k).number;
        f = Frame{MsgType::StepDone, encode(StepDone{step.step, expected + 1}), Clock::now()};
        return Retry::Answered;
      }
      return redo_take(step, i) ? Retry::Resent : Retry::Lost;
    };
    if (!await(k, step.step, shared ? MsgType::ClientGrads : MsgType::StepDone, f, again)) continue;
    std::string problem;
    try {
      if (shared) {
        const ClientGrads g = decode_client_grads(f.payload);
        if (g.step != step.step) problem = fmt::format("gradients for step {}, expected {}", g.step, step.step);
        else problem = check_tensors(g.grads, param_list, options_.max_value, "gradient");
        if (problem.empty()) {
          for (std::size_t p = 0; p < sum.size(); ++p) sum[p].add_(g.grads[p]);
          events_.bytes.weights_up += bytes_of(g.grads);
        }
      } else {
        const StepDone d = decode_step_done(f.payload);
        if (d.version != expected + 1)
          problem = fmt::format("a step done at part version {}, expected {}", d.version, expected + 1);
        else
          expected = d.version;
      }
    } catch (const ProtocolError& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      refuse(k, step.step, "sent " + problem);
      continue;
    }
    ++answered;
    client_s_[i] += std::chrono::duration<double>(f.received_at - sent_at_[i]).count();
    events_.latencies.push_back({k, step.takes[i].count, client_s_[i]});
  }
  if (shared && answered > 0) {  // no gradient at all: no update (weight decay would still move the part)
    for (std::size_t p = 0; p < sum.size(); ++p) param_list[p].mutable_grad() = sum[p];
    give_shared_update(step.step);
  }
  phases_.client_gradients += seconds_since(phase_start);
}

void RemoteClientParts::give_shared_update(std::int64_t step) {
  // Every client first holds the part as it was before this update (a client back
  // without it gets it now), then all take the same optimizer step the server takes.
  const std::int64_t clients = std::int64_t(expected_.size());
  for (std::int64_t k = 0; k < clients; ++k) {
    std::string why;
    if (!gone_[std::size_t(k)]) bring_up_to_date(k, why);
  }
  SharedUpdate update{step, part_.version, lr_, {}};
  for (const auto& p : part_.module->parameters()) update.grads.push_back(p.grad());
  part_.optimizer->step();
  ++part_.version;
  const auto payload = encode(update);
  for (std::int64_t k = 0; k < clients; ++k) {
    if (gone_[std::size_t(k)]) continue;
    server_.send(k, MsgType::Update, payload);
    events_.bytes.weights_down += bytes_of(update.grads);
    expected_[std::size_t(k)] = part_.version;
  }
}

std::vector<std::pair<std::int64_t, PartTensors>> RemoteClientParts::gather(PartKind kind, std::int64_t step,
                                                                            bool training,
                                                                            std::optional<std::int64_t> only) {
  const std::int64_t clients = std::int64_t(expected_.size());
  const MsgType answer = kind == PartKind::Weights ? MsgType::PartWeights : MsgType::PartState;
  const auto ask = [&](std::int64_t k) {
    std::string why;
    if (!bring_up_to_date(k, why)) {
      refuse(k, step, why);
      return false;
    }
    server_.send(k, MsgType::PartRequest, encode(PartRequest{step, kind}));
    return true;
  };
  const auto again = [&](std::int64_t k) { return ask(k) ? Retry::Resent : Retry::Lost; };
  std::vector<char> asked(std::size_t(clients), 0);
  for (std::int64_t k = 0; k < clients; ++k)
    asked[std::size_t(k)] = (!only || *only == k) && !gone_[std::size_t(k)] && ask(k);
  const auto reference = part_.weights();
  std::vector<std::pair<std::int64_t, PartTensors>> out;
  for (std::int64_t k = 0; k < clients; ++k) {
    if (!asked[std::size_t(k)]) continue;
    Frame f;
    if (!await(k, step, answer, f, [&] { return again(k); })) continue;
    std::string problem;
    PartTensors part;
    try {
      part = decode_part_tensors(f.payload);
      if (part.version != expected_[std::size_t(k)])
        problem = fmt::format("part version {}, expected {}", part.version, expected_[std::size_t(k)]);
      else if (kind == PartKind::Weights)
        problem = check_tensors(part.tensors, reference, options_.max_value, "weight");
      else {
        for (std::size_t p = 0; problem.empty() && p < part.tensors.size(); ++p)
          problem = out_of_bounds(part.tensors[p], options_.max_value, fmt::format("state tensor {}", p));
        if (problem.empty()) part_.set_state(part.tensors);  // checks count, types and shapes
      }
    } catch (const ProtocolError& e) {
      problem = e.what();
    } catch (const std::invalid_argument& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      refuse(k, step, "sent " + problem);
      continue;
    }
    if (training) events_.bytes.weights_up += bytes_of(part.tensors);
    out.emplace_back(k, std::move(part));
  }
  if (out.empty() && only)
    throw ClientLost(fmt::format("client {} left the run holding the client part at step {}", *only, step));
  if (out.empty()) throw ClientLost(fmt::format("no client is left to hold a client part at step {}", step));
  return out;
}

namespace {
// The average over the clients that answered: with every client present, exactly the
// weights given (the same bits as in process); otherwise renormalized over those present.
std::vector<double> weights_of(const std::vector<std::pair<std::int64_t, PartTensors>>& parts,
                               const std::vector<double>& weights) {
  std::vector<double> w;
  for (const auto& [k, part] : parts) w.push_back(weights[std::size_t(k)]);
  if (parts.size() != weights.size()) {
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    for (auto& x : w) x /= total;
  }
  return w;
}
std::vector<std::vector<at::Tensor>> tensors_of(const std::vector<std::pair<std::int64_t, PartTensors>>& parts) {
  std::vector<std::vector<at::Tensor>> out;
  for (const auto& [k, part] : parts) out.push_back(part.tensors);
  return out;
}
}  // namespace

void RemoteClientParts::average(const std::vector<double>& weights) {
  const auto parts = gather(PartKind::Weights, last_step_, true);
  weighted_average(tensors_of(parts), weights_of(parts, weights), *part_.module);
  const auto average_weights = part_.weights();
  for (const auto& [k, part] : parts) {
    auto& expected = expected_[std::size_t(k)];
    server_.send(k, MsgType::Average, encode(PartTensors{last_step_, expected, average_weights}));
    events_.bytes.weights_down += bytes_of(average_weights);
    ++expected;
  }
}

void RemoteClientParts::hand_over(std::int64_t from, std::int64_t to) {
  // The giver's weights, relayed by the server; the receiver takes them as it takes an average.
  const auto given = gather(PartKind::Weights, last_step_, true, from);
  std::string why;
  if (!bring_up_to_date(to, why)) {
    refuse(to, last_step_, why);
    return;
  }
  auto& expected = expected_[std::size_t(to)];
  server_.send(to, MsgType::Average, encode(PartTensors{last_step_, expected, given.front().second.tensors}));
  events_.bytes.weights_down += bytes_of(given.front().second.tensors);
  ++expected;
}

torch::nn::Sequential RemoteClientParts::evaluation_part(const std::vector<double>& weights) {
  if (layout_ == PartLayout::PerClient) {
    const auto parts = gather(PartKind::Weights, last_step_, false);
    weighted_average(tensors_of(parts), weights_of(parts, weights), *part_.module);
  }
  return part_.module;
}

void RemoteClientParts::save(torch::serialize::OutputArchive& archive) {
  if (layout_ == PartLayout::Shared) {
    torch::serialize::OutputArchive client, opt;
    part_.module->save(client);
    part_.optimizer->save(opt);
    archive.write("client0", client);
    archive.write("client_opt0", opt);
    archive.write("part_version", at::tensor(part_.version));
    return;
  }
  std::vector<std::int64_t> versions(expected_.size(), -1);  // -1: left the run
  for (auto& [k, part] : gather(PartKind::State, last_step_, false)) {
    versions[std::size_t(k)] = part.version;
    for (std::size_t i = 0; i < part.tensors.size(); ++i)
      archive.write(fmt::format("client{}_state{}", k, i), part.tensors[i]);
    archive.write(fmt::format("client{}_state_count", k), at::tensor(std::int64_t(part.tensors.size())));
  }
  archive.write("part_versions", at::tensor(versions));
}

void RemoteClientParts::load(torch::serialize::InputArchive& archive) {
  std::fill(seen_.begin(), seen_.end(), 0);  // every client's part is checked at its first use
  if (layout_ == PartLayout::Shared) {
    torch::serialize::InputArchive client, opt;
    archive.read("client0", client);
    archive.read("client_opt0", opt);
    part_.module->load(client);
    part_.optimizer->load(opt);
    at::Tensor version;
    archive.read("part_version", version);
    part_.version = version.item<std::int64_t>();
    std::fill(expected_.begin(), expected_.end(), part_.version);
    return;
  }
  at::Tensor versions;
  archive.read("part_versions", versions);
  if (versions.numel() != std::int64_t(expected_.size()))
    throw std::invalid_argument("the checkpoint holds the parts of another number of clients");
  for (std::size_t k = 0; k < expected_.size(); ++k) {
    const std::int64_t version = versions[std::int64_t(k)].item<std::int64_t>();
    if (version < 0) {
      gone_[k] = 1;
      continue;
    }
    at::Tensor count;
    archive.read(fmt::format("client{}_state_count", k), count);
    PartTensors part{0, version, {}};
    for (std::int64_t i = 0; i < count.item<std::int64_t>(); ++i) {
      at::Tensor t;
      archive.read(fmt::format("client{}_state{}", k, i), t);
      part.tensors.push_back(t);
    }
    expected_[k] = version;
    restorable_[k] = std::move(part);
  }
}

ClientEvents RemoteClientParts::take_events() { return std::exchange(events_, {}); }

void RemoteClientParts::scale_learning_rate(double factor) {
  lr_ = base_lr_ * factor;  // sent with each Gradient and Update: the clients step at it too
  set_learning_rate(*part_.optimizer, lr_);
}

}  // namespace psl::net
