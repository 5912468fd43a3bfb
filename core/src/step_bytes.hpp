// The bytes a training step puts on the network.
#pragma once

#include <cstdint>

namespace psl {

// What a step puts on the network, in bytes of tensor payload. Up: activations with
// their labels, and client-part weights, parameter gradients or updates; down:
// cut-layer gradients and weights.
struct StepBytes {
  double activations = 0, gradients = 0, weights_up = 0, weights_down = 0;
  double up() const { return activations + weights_up; }
  double down() const { return gradients + weights_down; }
  StepBytes& operator+=(const StepBytes& o) {
    activations += o.activations, gradients += o.gradients, weights_up += o.weights_up, weights_down += o.weights_down;
    return *this;
  }
};

// Every step's cut-layer traffic: each sample's activations and its int64 label up, the
// activations' gradient down.
inline StepBytes cut_layer_bytes(std::int64_t batch_size, double activation_bytes_per_sample) {
  const double b = double(batch_size);
  return {b * (activation_bytes_per_sample + 8), b * activation_bytes_per_sample, 0, 0};
}

}  // namespace psl
