#include "learning_rate.hpp"

#include <cmath>

namespace psl {

double lr_factor(LrSchedule schedule, double fraction) {
  switch (schedule) {
    case LrSchedule::Cosine: return 0.5 * (1.0 + std::cos(M_PI * fraction));
    case LrSchedule::Constant: break;
  }
  return 1.0;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace psl
