#include "net/remote_steps.hpp"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <cstring>

namespace psl::net {

RemoteSteps::RemoteSteps(TcpServer& server, Trainer& trainer, RemoteOptions options, RemoteHooks hooks)
    : server_(server), trainer_(trainer), options_(std::move(options)), hooks_(std::move(hooks)) {}

namespace {
// Every value a client sends is finite and within the bound: one client's garbage must
// never reach the shared weights (nor be blamed on the next client to send activations).
std::string out_of_bounds(const at::Tensor& t, double bound, const std::string& what) {
  if (t.numel() == 0) return "";
  if (!at::isfinite(t).all().item<bool>()) return what + " that are not finite";
  const double largest = t.abs().max().item<double>();
  if (largest > bound) return fmt::format("{} with a value of {:g} (transport.max_client_value = {:g})", what, largest, bound);
  return "";
}
}  // namespace

void RemoteSteps::request(const PlannedStep& step, std::size_t i) {
  StepRequest r{step.step, step.epoch, step.offsets[i], step.takes[i].count, trainer_.client_state()};
  sent_at_[i] = std::chrono::steady_clock::now();
  server_.send(step.takes[i].client, MsgType::StepRequest, encode(r));
}

bool RemoteSteps::handle_loss(const PlannedStep& step, std::size_t i, const std::string& why) {
  const std::int64_t k = step.takes[i].client;
  const ClientLossPolicy policy = options_.on_client_loss;
  if (policy == ClientLossPolicy::Drop) {
    hooks_.log(fmt::format("client {} lost at step {} ({}); on_client_loss = drop: its remaining samples leave the run",
                     k, step.step, why));
    dropped_now_.push_back(k);
    ++dropped_;
    return false;
  }
  if (policy == ClientLossPolicy::Wait) {
    hooks_.log(fmt::format("client {} lost at step {} ({}); on_client_loss = wait: waiting up to {} s for it to reconnect",
                           k, step.step, why, options_.step_timeout_s));
    // A process we started may take a moment to be seen as ended after its connection
    // drops: look again while waiting.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options_.step_timeout_s);
    for (;;) {
      if (hooks_.restart) hooks_.restart(k);
      const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      if (server_.wait_connected(k, std::min(left, 0.5))) {
        hooks_.log(fmt::format("client {} is back; step {} goes on", k, step.step));
        return true;
      }
    }
    throw ClientLost(fmt::format("client {} did not reconnect within {} s (on_client_loss = wait)", k,
                                 options_.step_timeout_s));
  }
  throw ClientLost(fmt::format("client {} lost at step {}: {} (on_client_loss = abort)", k, step.step, why));
}

bool RemoteSteps::await(const PlannedStep& step, std::size_t i, MsgType type, Frame& out) {
  const std::int64_t k = step.takes[i].client;
  for (;;) {
    const auto result = server_.receive(k, options_.step_timeout_s, out);
    if (result == TcpServer::Result::Frame) {
      // Activations and ClientGrads both start with their step: drop answers to an
      // earlier step (a client that reconnected may still send one).
      std::int64_t frame_step = step.step;
      if (out.payload.size() >= 8) std::memcpy(&frame_step, out.payload.data(), 8);
      if (out.type == type && frame_step >= step.step) {
        client_s_[i] += std::chrono::duration<double>(out.received_at - sent_at_[i]).count();
        return true;
      }
      hooks_.log(fmt::format("client {}: {} for step {} while waiting for {} of step {}; ignored", k, to_string(out.type),
                       frame_step, to_string(type), step.step));
      continue;
    }
    const std::string why = result == TcpServer::Result::Lost ? "disconnected"
                                                              : fmt::format("no answer within {} s", options_.step_timeout_s);
    if (!handle_loss(step, i, why)) return false;
    // Back ("wait"). A client keeps nothing between connections, so its part of the step
    // starts over: the same request (the client part's weights have not moved yet) and,
    // in the gradient round, its activations once more and the same gradient.
    request(step, i);
    if (type == MsgType::ClientGrads) {
      Frame again;
      if (!await(step, i, MsgType::Activations, again)) return false;
      sent_at_[i] = std::chrono::steady_clock::now();
      server_.send(k, MsgType::Gradient, encode(Gradient{step.step, gradients_[i]}));
    }
  }
}

void RemoteSteps::refuse(const PlannedStep& step, std::size_t i, const std::string& problem) {
  // A client that sends wrong content is not waited for: dropped, or the run stops.
  if (options_.on_client_loss == ClientLossPolicy::Drop) {
    handle_loss(step, i, "sent " + problem);
    return;
  }
  throw ClientLost(fmt::format("client {} sent {}", step.takes[i].client, problem));
}

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}
}  // namespace

double RemoteSteps::step(const PlannedStep& step) {
  auto phase_start = Clock::now();
  const std::size_t n = step.takes.size();
  gradients_.assign(n, at::Tensor());
  dropped_now_.clear();
  latencies_.clear();
  sent_at_.assign(n, {});
  client_s_.assign(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) request(step, i);

  std::vector<at::Tensor> acts;
  std::vector<at::Tensor> labels;
  std::vector<std::size_t> present;
  for (std::size_t i = 0; i < n; ++i) {
    Frame f;
    if (!await(step, i, MsgType::Activations, f)) continue;
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
      else if (a.labels.numel() && (a.labels.min().item<std::int64_t>() < 0 ||
                                    a.labels.max().item<std::int64_t>() >= options_.num_classes))
        problem = "labels out of range";
      else
        problem = out_of_bounds(a.activations, options_.max_value, "activations");
    } catch (const ProtocolError& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      refuse(step, i, problem);
      continue;
    }
    acts.push_back(a.activations);
    labels.push_back(a.labels);
    present.push_back(i);
  }
  phases_.activations += seconds_since(phase_start);
  if (acts.empty()) return NAN;

  std::vector<at::Tensor> grads;
  const double loss = trainer_.server_step(acts, at::cat(labels), grads);
  phases_.server += seconds_since(phase_start);
  for (std::size_t j = 0; j < present.size(); ++j) {
    gradients_[present[j]] = grads[j];
    sent_at_[present[j]] = std::chrono::steady_clock::now();
    server_.send(step.takes[present[j]].client, MsgType::Gradient, encode(Gradient{step.step, grads[j]}));
  }

  const auto shapes = trainer_.client_gradient_shapes();
  std::vector<std::vector<at::Tensor>> client_grads;
  for (std::size_t i : present) {
    Frame f;
    if (!await(step, i, MsgType::ClientGrads, f)) continue;
    ClientGrads g;
    std::string problem;
    try {
      g = decode_client_grads(f.payload);
      if (g.step != step.step) problem = fmt::format("gradients for step {}, expected {}", g.step, step.step);
      else if (g.grads.size() != shapes.size()) problem = fmt::format("{} gradients, expected {}", g.grads.size(), shapes.size());
      for (std::size_t p = 0; problem.empty() && p < shapes.size(); ++p)
        if (g.grads[p].scalar_type() != at::kFloat || g.grads[p].sizes().vec() != shapes[p])
          problem = fmt::format("gradient {} of shape [{}], expected [{}]", p, fmt::join(g.grads[p].sizes(), ", "), fmt::join(shapes[p], ", "));
      for (std::size_t p = 0; problem.empty() && p < shapes.size(); ++p)
        problem = out_of_bounds(g.grads[p], options_.max_value, fmt::format("gradient {}", p));
    } catch (const ProtocolError& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      refuse(step, i, problem);
      continue;
    }
    client_grads.push_back(std::move(g.grads));
    latencies_.push_back({step.takes[i].client, step.takes[i].count, client_s_[i]});
  }
  trainer_.apply_client_gradients(client_grads);
  phases_.client_gradients += seconds_since(phase_start);
  return loss;
}

}  // namespace psl::net
