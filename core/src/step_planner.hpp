// Plans a run's steps without any model: the sampler picks the takes, each client's data
// order picks the samples, the delay model and the time model price the step. Shared by
// `psl sample` (planning only) and `psl run` (planning, then training on the plan).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "psl/api/delay_model.hpp"
#include "psl/api/protocol.hpp"
#include "psl/api/sampler.hpp"
#include "step_bytes.hpp"

namespace psl {

using Partition = std::vector<std::vector<std::int64_t>>;

struct PlannerConfig {
  std::int64_t batch_size = 128;
  std::int64_t num_classes = 10;
  double bytes_per_sample = 0;    // activation bytes (= gradient bytes) per sample
  double step_deadline_s = 0;     // 0: no deadline
  bool label_aware = false;
  std::uint64_t seed = 1;
  std::string sampler_name;       // for error messages: sampler 'NAME' (LIBRARY), epoch, step
  std::string sampler_library;
};

struct PlannedStep {
  std::int64_t epoch = 0;
  std::int64_t step = 0;                // global, from 0
  std::vector<Take> takes;              // the contributions used, after deadline deferral
  std::vector<std::int64_t> indices;    // training-sample indices, in take order
  std::vector<std::int64_t> offsets;    // per take: where in the client's epoch order it starts
  std::int64_t batch_size = 0;
  double batch_deviation = 0;
  double step_time_s = 0;
  double straggler_wait_s = 0;
  std::int64_t deferred = 0;            // contributions deferred to a later step
  std::int64_t lost = 0;                // samples of dropped clients that left the epoch
  double availability_wait_s = 0;       // waited before the step for a client with data to come online (in step_time_s)
  std::int64_t online_clients = 0;      // clients online when the step ran
  StepSchedule schedule;                // the protocol's, checked
  std::vector<std::int64_t> hand_over_from;  // per pass: the client whose part its client takes over, or -1
  StepBytes bytes;                      // what the schedule sends, as the time model prices it
};

// A step planned without a protocol: all its takes in one pass (psl's schedule).
inline StepSchedule one_pass_schedule(std::size_t takes) {
  StepSchedule s;
  s.passes.emplace_back();
  for (std::size_t i = 0; i < takes; ++i) s.passes[0].takes.push_back(i);
  return s;
}

// Client k's sample order in an epoch: its sorted shard, shuffled by its own stream, so a
// real client can recompute it alone.
void shuffle_client_order(std::vector<std::int64_t>& shard, std::uint64_t seed, std::int64_t epoch, std::int64_t client);

class ProtocolPlan;

class SamplerError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StepPlanner {
 public:
  // Takes the partition (each client's list is kept sorted between epochs, so one copy
  // of the indices serves every epoch).
  StepPlanner(Partition partition, const std::vector<std::int32_t>& labels, Sampler& sampler, DelayModel& delay,
              PlannerConfig config);
  ~StepPlanner();

  // Starts an epoch: every client's data reshuffled, the sampler's generator reseeded.
  void begin_epoch(std::int64_t epoch);
  bool epoch_done() const;
  // The next step of the current epoch; throws SamplerError if the sampler breaks its contract.
  PlannedStep next();

  // Per-client label histograms of the partition.
  const std::vector<std::vector<std::int64_t>>& label_histograms() const { return histograms_; }
  const Partition& partition() const { return order_; }
  std::int64_t steps_planned() const { return global_step_; }
  // A client that is gone for good (TCP, on_client_loss = "drop"): from now on its takes
  // are discarded and its samples leave the epoch.
  void drop_client(std::int64_t client) { dropped_.at(std::size_t(client)) = 1; }
  void set_global_step(std::int64_t step) { global_step_ = step; }
  // The virtual clock at the next step (availability is read on it): a resumed run
  // continues from its recorded simulated time.
  void set_clock(double seconds) { clock_s_ = seconds; }
  double clock_s() const { return clock_s_; }
  // The protocol that schedules and prices each step (psl run and psl sample set one);
  // without one, a step is one pass over all takes, priced by the paper's time model.
  void set_protocol(ProtocolPlan* protocol) { protocol_ = protocol; }
  // A real client's observed time for a step of `samples` samples: from now on the
  // sampler's expected_latency_s for that client comes from these observations, not from
  // the delay model.
  void observe_latency(std::int64_t client, std::int64_t samples, double seconds);

 private:
  class Clients;
  // Runs a call into the sampler plugin; anything it throws comes back as a SamplerError
  // that names the sampler, its library, the epoch and the step.
  template <class Call>
  auto call_sampler(Call&& call) -> decltype(call());
  std::string sampler_context() const;
  // With availability: refreshes who is online, and if no online client has data left,
  // moves the clock to when the first one comes back. Returns the seconds waited.
  double wait_for_clients();
  std::unique_ptr<Clients> clients_;
  const std::vector<std::int32_t>& labels_;
  Sampler& sampler_;
  DelayModel& delay_;
  ProtocolPlan* protocol_ = nullptr;
  PlannerConfig config_;
  std::vector<double> train_distribution_;
  Partition order_;                                // per client: this epoch's sample order
  std::vector<std::vector<std::int64_t>> histograms_;
  std::vector<std::int64_t> seen_at_step_;         // duplicate-take check, O(1) per take
  std::vector<char> dropped_;
  Rng sampler_rng_;  // both reseeded per epoch: a resumed run replays exactly
  Rng delay_rng_;
  std::int64_t epoch_ = 0;
  std::int64_t global_step_ = 0;
  double clock_s_ = 0;
  std::int64_t online_now_ = 0;
};

}  // namespace psl
