// The bytes a training step puts on the network.
#pragma once

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

}  // namespace psl
