// The "execute" box of the step loop (docs/step-loop.md): a planned step goes in, its
// loss and what happened to the clients come out. One executor per transport: in
// process (in_process_executor.cpp) or real clients over TCP (net/tcp_executor.cpp). A
// new transport is one more implementation; the loop does not change. Each executor
// builds its Trainer with its own ClientParts; the training arithmetic is shared.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client_parts.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/split_model.hpp"
#include "run_summary.hpp"
#include "settings.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace psl {

struct StepOutcome {
  double loss = NAN;                  // NaN: nothing was trained (psl sample; every client of the step lost)
  std::vector<std::int64_t> dropped;  // clients that left the run during the step (on_client_loss = "drop")
  std::vector<ObservedLatency> latencies;  // real clients: what each took
  std::optional<StepBytes> bytes;          // real clients: the payload counted as it crossed
};

// What an executor needs to build its trainer.
struct TrainingSetup {
  const SplitModel& model;
  SplitNetwork network;                    // the seeded initial network
  std::vector<std::int64_t> activation_shape;  // one sample's, at the cut
  std::vector<std::int64_t> client_sizes;  // N_k
  TrainingSettings settings;
  ProtocolShape shape = {};                // what the run's protocol fixes
  std::vector<std::int64_t> sample_shape = {};  // the data set's, for building more server parts
  std::int64_t num_classes = 0;
  std::vector<ClientTiming> timings = {};  // each client's expected timing (emulated links)
};

// Builds another server part of the setup's model (weights to be copied in).
inline std::function<torch::nn::Sequential()> server_replica(const TrainingSetup& setup) {
  return [&model = setup.model, shape = setup.sample_shape, classes = setup.num_classes] {
    return model.build(shape, classes).server;
  };
}

class StepExecutor {
 public:
  virtual ~StepExecutor();
  // Work to do before the first step, kept out of the training time (loading data).
  virtual void before_training() {}
  // Throws RunError when the step cannot be completed.
  virtual StepOutcome execute(const PlannedStep& step) = 0;
  // The end of the run: tell whoever takes part (reason said to real clients).
  virtual void stop(const std::string& reason) { (void)reason; }
  // What only this executor knows, added to summary.json.
  virtual void describe(RunSummary& summary) const { (void)summary; }
  // The trainer, for evaluation and checkpoints; null when nothing is trained (psl sample).
  virtual Trainer* trainer() = 0;
};

}  // namespace psl
