// The "execute" box of the step loop (docs/step-loop.md): a planned step goes in, its
// loss and what happened to the clients come out. One executor per transport: in
// process (in_process_executor.cpp) or real clients over TCP (net/tcp_executor.cpp). A
// new transport is one more implementation; the loop does not change.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "run_summary.hpp"
#include "step_planner.hpp"

namespace psl {

struct ObservedLatency {
  std::int64_t client = 0, samples = 0;
  double seconds = 0;  // the client's part of the step: its forward and backward passes and transfers
};

struct StepOutcome {
  double loss = NAN;                  // NaN: nothing was trained (psl sample; every client of the step lost)
  std::vector<std::int64_t> dropped;  // clients that left the run during the step (on_client_loss = "drop")
  std::vector<ObservedLatency> latencies;  // real clients: what each took
};

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
};

}  // namespace psl
