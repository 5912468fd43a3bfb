// One pass per take, for the protocols that train each client's contribution under its
// own loss: in take order, or shuffled by the step's seeded generator.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "psl/api/protocol.hpp"

namespace psl_protocols {

inline std::vector<psl::Pass> one_pass_per_take(const psl::StepView& step, psl::Rng* shuffle_with) {
  std::vector<std::size_t> order(step.takes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (shuffle_with) std::shuffle(order.begin(), order.end(), *shuffle_with);
  std::vector<psl::Pass> passes;
  for (std::size_t i : order) passes.push_back(psl::Pass{{i}, false, false});
  return passes;
}

}  // namespace psl_protocols
