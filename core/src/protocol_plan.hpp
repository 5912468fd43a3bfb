// A protocol's side of planning: each step's schedule from the protocol plugin, checked,
// with its hand-overs resolved, its bytes counted and its time on the virtual clock
// (docs/protocols.md, docs/time-model.md). Shared by `psl sample` and `psl run`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "psl/api/delay_model.hpp"
#include "psl/api/protocol.hpp"
#include "step_planner.hpp"

namespace psl {

struct ProtocolPlanConfig {
  std::string name, library;       // for error messages
  std::int64_t num_clients = 0;
  std::uint64_t seed = 1;
  double bytes_per_sample = 0;     // activation bytes per sample (as the time model prices)
  double part_parameter_bytes = 0; // the client part's parameters (their gradients and updates are as large)
  double part_weight_bytes = 0;    // parameters and buffers (what averages and hand-overs send)
};

class ProtocolPlan {
 public:
  ProtocolPlan(const Protocol& protocol, ProtocolPlanConfig config, const DelayModel& delay);

  const ProtocolShape& shape() const { return shape_; }
  // Fills step.schedule, step.hand_over_from, step.bytes, step.step_time_s and
  // step.straggler_wait_s. `client_times[i]` is take i's client time (client_step_time).
  // Throws SamplerError-like std::runtime_error naming the protocol if its schedule is wrong.
  void plan(PlannedStep& step, const std::vector<double>& client_times, double server_s_per_sample);

  // The client that trained last (whose part the next hand-over passes on); -1 before any.
  std::int64_t last_active() const { return last_active_; }
  void set_last_active(std::int64_t client) { last_active_ = client; }

 private:
  void check(const PlannedStep& step, const StepSchedule& schedule) const;
  double transfer_s(std::int64_t client, double up_bytes, double down_bytes) const;

  const Protocol& protocol_;
  ProtocolPlanConfig config_;
  const DelayModel& delay_;
  ProtocolShape shape_;
  std::int64_t last_active_ = -1;
};

}  // namespace psl
