#include "in_process_executor.hpp"

#include <fmt/format.h>
#include <torch/types.h>

#include "run_settings.hpp"

namespace psl {

StepExecutor::~StepExecutor() = default;

void InProcessExecutor::before_training() {
  // A lazy data set reads its features on first use: now, not inside the first step.
  if (trainer_) data_.features(Split::Train, {0});
}

StepOutcome InProcessExecutor::execute(const PlannedStep& step) {
  StepOutcome out;
  if (!trainer_ || step.takes.empty()) return out;
  const auto& labels = data_.labels(Split::Train);
  at::Tensor x = data_.features(Split::Train, step.indices);
  std::vector<std::int64_t> y(step.indices.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = labels[std::size_t(step.indices[i])];
  out.loss = trainer_->step(step.takes, x, torch::tensor(y));
  if (!std::isfinite(out.loss))
    throw RunError(fmt::format("the loss is {} at step {}: lower training.lr", out.loss, step.step));
  return out;
}

}  // namespace psl
