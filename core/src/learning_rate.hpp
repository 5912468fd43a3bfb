// training.lr_schedule: the learning rate as a function of how far the run has come
// (run_fraction in progress.hpp: samples trained over epochs x training-set size, or
// steps over max_steps when that ends the run sooner). A pure function of the samples
// trained so far, so a resumed run takes the same rates as one that never stopped.
#pragma once

#include <torch/optim/optimizer.h>

#include "settings.hpp"

namespace psl {

// The factor on training.lr at `fraction` of the run: 1 throughout for Constant; for
// Cosine (1 + cos(pi * fraction)) / 2, from 1 at the start to 0 at the end.
double lr_factor(LrSchedule schedule, double fraction);

// Sets every parameter group's learning rate (SGD and Adam alike).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace psl
