// training.client_sync as strategies: what each client holds, what it receives, and how
// gradients or weights are folded back in. The Trainer runs every step through one; both
// transports provide the same ClientParts operations, so a strategy never knows where
// the clients run. docs/step-loop.md says how to add one.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "client_parts.hpp"
#include "settings.hpp"
#include "step_planner.hpp"

namespace psl {

// The server's part of the model with its optimizer.
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

class ClientSyncStrategy {
 public:
  virtual ~ClientSyncStrategy();
  virtual PartLayout layout() const = 0;
  // One step: returns the loss, NaN if no client answered.
  virtual double step(const PlannedStep& step, ClientParts& clients, ServerPart& server) = 0;
};

// client_sync: shared, local or fedavg (averaging every sync_every_steps steps, weighted
// by client_sizes).
std::unique_ptr<ClientSyncStrategy> make_client_sync(ClientSync sync, std::int64_t sync_every_steps,
                                                     std::vector<std::int64_t> client_sizes);

}  // namespace psl
