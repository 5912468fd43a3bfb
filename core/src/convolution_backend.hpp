// Which CPU convolution code a client part runs on.
//
// libtorch's default CPU convolution (oneDNN) is slow for a convolution over a single input
// channel, as a first layer on grey images is: fmnist_cnn's client part (1 -> 32 channels,
// 28 x 28, then ReLU and max-pool) trains forward and backward in 4.1-4.5 ms for 16 samples
// on one thread with oneDNN turned off, 6.8-7.0 ms with it, and 20 against 35 ms for 128
// samples on two threads; every convolution over more channels is faster with oneDNN
// (docs/benchmarks.md, section 7). libtorch chooses the code per call, from a process-wide
// switch, when the forward runs and again when the backward runs, so the switch is set
// around both.
#pragma once

#include <ATen/Context.h>
#include <torch/nn/modules/container/sequential.h>

namespace psl {

// True when every convolution of `part` reads one input channel (and it has one): such a
// part runs without oneDNN.
bool runs_without_onednn(const torch::nn::Sequential& part);

// oneDNN off (when `off`) for the scope's lifetime, then the switch as it was.
class OneDnnOffScope {
 public:
  explicit OneDnnOffScope(bool off) : saved_(at::globalContext().userEnabledMkldnn()), off_(off) {
    if (off_) at::globalContext().setUserEnabledMkldnn(false);
  }
  ~OneDnnOffScope() {
    if (off_) at::globalContext().setUserEnabledMkldnn(saved_);
  }
  OneDnnOffScope(const OneDnnOffScope&) = delete;
  OneDnnOffScope& operator=(const OneDnnOffScope&) = delete;

 private:
  bool saved_, off_;
};

}  // namespace psl
