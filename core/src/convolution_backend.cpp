#include "convolution_backend.hpp"

#include <torch/nn/modules/conv.h>

namespace psl {

bool runs_without_onednn(const torch::nn::Sequential& part) {
  int convolutions = 0;
  for (const auto& module : part->modules(/*include_self=*/false)) {
    if (module->as<torch::nn::Conv1d>() || module->as<torch::nn::Conv3d>()) return false;
    if (const auto* conv = module->as<torch::nn::Conv2d>()) {
      if (conv->options.in_channels() != 1) return false;
      ++convolutions;
    }
  }
  return convolutions > 0;
}

}  // namespace psl
