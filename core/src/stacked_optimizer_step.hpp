// One optimizer step for many clients at once, each with its own state: the arithmetic
// of torch::optim::SGD and Adam as make_optimizer (client_part.hpp) sets them up, applied
// to [T, ...] stacks of T clients' parameters (the batched pass of local and fedavg sync).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "client_part.hpp"

namespace psl {

// `params`: per parameter, the [T, ...] stack, with its gradient; updated in place.
// `slots`: the clients' optimizer state in ClientPart::optimizer_state()'s layout, each
// stacked ([T, 1] for Adam's step counts), zero where a client has no state yet,
// undefined where no client has any. Returns the new slots, undefined where the
// optimizer keeps none (SGD without momentum; Adam's unused max_exp_avg_sq).
std::vector<at::Tensor> stacked_optimizer_step(const OptimizerSettings& settings, const std::vector<at::Tensor>& params,
                                               std::vector<at::Tensor> slots);

}  // namespace psl
