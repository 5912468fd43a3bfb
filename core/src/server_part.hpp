// The server's part of the model with its optimizer, and what a protocol's pass asks of it.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "client_parts.hpp"

namespace psl {

struct ServerPart {
  torch::nn::Sequential module;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  struct Result {
    double loss;
    std::vector<at::Tensor> gradients;  // per piece: the gradient of its activations
  };
  // One loss over all pieces (concatenated in order), one optimizer step.
  Result train(const ClientOutputs& outputs);
};

// SGLR's common cut-layer gradient: row j of the result is the mean of row j over the
// pieces that have a row j; each piece gets the rows it has.
std::vector<at::Tensor> average_rows(const std::vector<at::Tensor>& gradients);

}  // namespace psl
