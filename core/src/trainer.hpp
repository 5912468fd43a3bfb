// The learning side of a PSL step: client parts, server part, optimizers, evaluation and
// checkpoints. Knows nothing of samplers or time; the coordinator hands it batches.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "psl/api/dataset.hpp"
#include "psl/api/sampler.hpp"
#include "psl/api/split_model.hpp"
#include "settings.hpp"

namespace psl {

struct TrainerConfig {
  OptimizerKind optimizer = OptimizerKind::Sgd;
  double lr = 0.05;
  double momentum = 0;
  double weight_decay = 0;
  ClientSync client_sync = ClientSync::Shared;
  std::int64_t sync_every_steps = 10;
  bool fused = true;
  std::int64_t eval_batch_size = 256;
};

struct Evaluation {
  double accuracy = 0;
  double loss = 0;
};

// One sample's activation shape at the cut (a forward pass of zeros through the client
// part); its bytes are what crosses the network per sample, each way.
std::vector<std::int64_t> measure_activation_shape(torch::nn::Sequential& client,
                                                   const std::vector<std::int64_t>& sample_shape);
double activation_bytes(const std::vector<std::int64_t>& activation_shape);  // float32

class Trainer {
 public:
  // Builds the replicas from `model` (torch's generator must be seeded by the caller);
  // client_sizes are N_k, the fedavg weights.
  Trainer(const SplitModel& model, const std::vector<std::int64_t>& sample_shape, std::int64_t num_classes,
          std::vector<std::int64_t> client_sizes, TrainerConfig config);
  ~Trainer();

  // One PSL step. `x` and `y` hold the takes' samples in take order. Returns the loss.
  double step(const std::vector<Take>& takes, const at::Tensor& x, const at::Tensor& y);

  Evaluation evaluate(const Dataset& data) const;

  // The server's half of a step with real clients (shared sync only): `activations` in
  // take order; returns the loss and, per take, the gradient of its activations.
  double server_step(const std::vector<at::Tensor>& activations, const at::Tensor& labels,
                     std::vector<at::Tensor>& gradients);
  // Sums the clients' parameter gradients in take order and steps the shared client part:
  // the same arithmetic as a per-client (unfused) simulated step.
  void apply_client_gradients(const std::vector<std::vector<at::Tensor>>& per_client);
  // The shared client part's parameters then buffers, as sent to real clients.
  std::vector<at::Tensor> client_state() const;
  std::vector<std::vector<std::int64_t>> client_gradient_shapes() const;

  // Activation bytes per sample crossing the cut (equal to the gradient bytes).
  double activation_bytes_per_sample() const { return activation_bytes_; }
  const std::vector<std::int64_t>& activation_shape() const { return activation_shape_; }  // one sample's

  // All parameters of the client part (replica 0 or the average, see docs) and the server part.
  std::vector<at::Tensor> parameters() const;

  // Model and optimizer state as bytes (a torch archive), for the run's checkpoint.
  std::string save_state() const;
  void load_state(const std::string& bytes);

 private:
  struct State;
  std::unique_ptr<State> s_;
  double activation_bytes_ = 0;
  std::vector<std::int64_t> activation_shape_;
};

}  // namespace psl
