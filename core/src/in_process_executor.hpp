// Simulated clients: the whole step in this process, every client part held here (or,
// for `psl sample`, no training at all: the plan is all there is).
#pragma once

#include <memory>
#include <optional>

#include "executor.hpp"
#include "psl/api/dataset.hpp"

namespace psl {

class InProcessExecutor : public StepExecutor {
 public:
  // No setup: psl sample.
  InProcessExecutor(const Dataset& data, std::optional<TrainingSetup> setup);
  void before_training() override;
  StepOutcome execute(const PlannedStep& step) override;
  Trainer* trainer() override { return trainer_.get(); }

 private:
  const Dataset& data_;
  std::unique_ptr<Trainer> trainer_;
};

}  // namespace psl
