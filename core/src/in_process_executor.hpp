// Simulated clients: the whole step in this process, on the trainer (or, for `psl
// sample`, no training at all: the plan is all there is).
#pragma once

#include "executor.hpp"
#include "psl/api/dataset.hpp"
#include "trainer.hpp"

namespace psl {

class InProcessExecutor : public StepExecutor {
 public:
  // trainer: null for psl sample.
  InProcessExecutor(Trainer* trainer, const Dataset& data) : trainer_(trainer), data_(data) {}
  void before_training() override;
  StepOutcome execute(const PlannedStep& step) override;

 private:
  Trainer* trainer_;
  const Dataset& data_;
};

}  // namespace psl
