#include "in_process_executor.hpp"

#include <fmt/format.h>

#include "local_client_parts.hpp"
#include "run_settings.hpp"

namespace psl {

StepExecutor::~StepExecutor() = default;

InProcessExecutor::InProcessExecutor(const Dataset& data, std::optional<TrainingSetup> setup) : data_(data) {
  if (!setup) return;
  const auto& t = setup->settings;
  const auto optimizer = optimizer_settings(t);
  const ProtocolShape& shape = setup->shape;
  auto parts = std::make_unique<LocalClientParts>(setup->model, setup->network.client, data, t.clients, shape.clients,
                                                  with_lr_scale(optimizer, shape.client_lr_scale), t.fused);
  trainer_ = std::make_unique<Trainer>(setup->network.server, server_replica(*setup), optimizer, std::move(parts),
                                       shape, setup->client_sizes, t.eval_batch_size);
}

void InProcessExecutor::before_training() {
  // A lazy data set reads its features on first use: now, not inside the first step.
  if (trainer_) data_.features(Split::Train, {0});
}

StepOutcome InProcessExecutor::execute(const PlannedStep& step) {
  StepOutcome out;
  if (!trainer_ || step.takes.empty()) return out;
  out.loss = trainer_->step(step);
  if (!std::isfinite(out.loss))
    throw RunError(fmt::format("the loss is {} at step {}: lower training.lr", out.loss, step.step));
  return out;
}

}  // namespace psl
