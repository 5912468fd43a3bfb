#include "protocol_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "time_model.hpp"

namespace psl {

ProtocolPlan::ProtocolPlan(const Protocol& protocol, ProtocolPlanConfig config, const DelayModel& delay)
    : protocol_(protocol), config_(std::move(config)), delay_(delay), shape_(protocol.shape()) {}

void ProtocolPlan::check(const PlannedStep& step, const StepSchedule& s) const {
  const auto fail = [&](const std::string& what) {
    throw std::runtime_error(fmt::format("protocol '{}'{}, step {}: {}", config_.name,
                                         config_.library.empty() ? "" : " (" + config_.library + ")", step.step, what));
  };
  if (s.passes.empty()) fail("returned a schedule without passes");
  std::vector<int> seen(step.takes.size(), 0);
  for (const Pass& pass : s.passes) {
    if (pass.takes.empty()) fail("returned an empty pass");
    for (const std::size_t i : pass.takes) {
      if (i >= step.takes.size()) fail(fmt::format("named take {}, but the step has {}", i, step.takes.size()));
      if (seen[i]++) fail(fmt::format("put take {} in two passes", i));
    }
    if (pass.takes.size() > 1 && (pass.receive_part || shape_.server_per_client))
      fail("put several clients in one pass of a protocol that hands parts over or keeps a server copy per client");
    if (pass.receive_part && shape_.clients != PartLayout::PerClient)
      fail("hands a client part over, but its clients share one part (PartLayout::Shared)");
  }
  if (std::count(seen.begin(), seen.end(), 0)) fail("left a take out of every pass");
  if (s.average_clients && shape_.clients != PartLayout::PerClient)
    fail("averages client parts, but its clients share one part");
  if (s.average_servers && !shape_.server_per_client) fail("averages server copies, but keeps one server part");
}

double ProtocolPlan::transfer_s(std::int64_t client, double up_bytes, double down_bytes) const {
  const ClientTiming t = delay_.expected(client);
  return (up_bytes > 0 ? t.latency_s + up_bytes / t.uplink_bytes_per_s : 0.0) +
         (down_bytes > 0 ? t.latency_s + down_bytes / t.downlink_bytes_per_s : 0.0);
}

void ProtocolPlan::plan(PlannedStep& step, const std::vector<double>& client_times, double server_s) {
  step.schedule = StepSchedule{};
  step.hand_over_from.clear();
  step.bytes = {};
  if (step.takes.empty()) return;
  const StepView view{step.epoch, step.step, config_.num_clients, step.takes};
  Rng rng = make_rng(config_.seed, "protocol", std::uint64_t(step.step));
  StepSchedule s = protocol_.schedule(view, rng);
  check(step, s);

  const double K = double(config_.num_clients);
  const double W = config_.part_weight_bytes, P = config_.part_parameter_bytes;
  StepBytes& bytes = step.bytes;
  bytes = cut_layer_bytes(step.batch_size, config_.bytes_per_sample);

  // Per pass: its slowest client, its samples, and a hand-over before it.
  double handover_s = 0, server_done = 0, in_turn_s = 0, sequential_s = 0;
  for (const Pass& pass : s.passes) {
    double slowest = 0;
    std::int64_t samples = 0;
    for (const std::size_t i : pass.takes) {
      slowest = std::max(slowest, client_times[i]);
      samples += step.takes[i].count;
    }
    const std::int64_t client = step.takes[pass.takes.front()].client;
    std::int64_t from = -1;
    if (pass.receive_part && last_active_ >= 0 && last_active_ != client) {
      from = last_active_;
      bytes.weights_up += W;
      bytes.weights_down += W;
      const double t = transfer_s(from, W, 0) + transfer_s(client, 0, W);
      handover_s += t;
      sequential_s += t;
    }
    step.hand_over_from.push_back(from);
    if (shape_.clients == PartLayout::Shared) {  // parameter gradients up, the update down to every client
      bytes.weights_up += P * double(pass.takes.size());
      bytes.weights_down += P * K;
    }
    server_done += double(samples) * server_s;
    in_turn_s = std::max(in_turn_s, slowest + server_done);
    sequential_s += slowest + double(samples) * server_s;
    last_active_ = step.takes[pass.takes.back()].client;
  }

  StepTime time = step_time(client_times, step.batch_size, server_s);
  if (s.timing == PassTiming::ServerInTurn) time.total_s = in_turn_s + handover_s;
  if (s.timing == PassTiming::Sequential) time = {sequential_s, 0.0};  // no one waits for a straggler: all wait for all
  if (s.timing == PassTiming::Parallel) time.total_s += handover_s;
  if (s.average_clients) {
    // Every client sends its part and receives the average, all at once: the slowest link.
    double slowest = 0;
    for (std::int64_t k = 0; k < config_.num_clients; ++k) slowest = std::max(slowest, transfer_s(k, W, W));
    time.total_s += slowest;
    bytes.weights_up += W * K;
    bytes.weights_down += W * K;
  }
  step.step_time_s = time.total_s;
  step.straggler_wait_s = time.straggler_wait_s;
  step.schedule = std::move(s);
}

}  // namespace psl
