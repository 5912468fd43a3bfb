// The learning side of a run: the server part, the clients' parts (wherever they run),
// the client-sync strategy that steps them, evaluation and checkpoints. Knows nothing of
// samplers or time; the executor hands it planned steps.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client_part.hpp"
#include "client_parts.hpp"
#include "client_sync.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"

namespace psl {

struct Evaluation {
  double accuracy = 0;  // top-1, over the whole test set
  double loss = 0;
  double macro_f1 = 0;  // the mean over classes of F1 (classes present in the labels or the predictions)
  std::vector<double> class_accuracy;  // per class: the share of its test samples classified right (NaN: none)
};

// One sample's activation shape at the cut (a forward pass of zeros through the client
// part); its bytes are what crosses the network per sample, each way.
std::vector<std::int64_t> measure_activation_shape(torch::nn::Sequential& client,
                                                   const std::vector<std::int64_t>& sample_shape);
double activation_bytes(const std::vector<std::int64_t>& activation_shape);  // float32

class Trainer {
 public:
  // `server`: the seeded network's server part; `clients` start from its client part.
  // client_sizes are N_k, the weights of averages.
  Trainer(torch::nn::Sequential server, const OptimizerSettings& optimizer, std::unique_ptr<ClientParts> clients,
          std::unique_ptr<ClientSyncStrategy> sync, std::vector<std::int64_t> client_sizes,
          std::int64_t eval_batch_size);
  ~Trainer();

  // One step of the plan. Returns the loss; NaN if no client answered.
  double step(const PlannedStep& step);

  Evaluation evaluate(const Dataset& data);
  // All parameters of the client part used for evaluation, then the server part's.
  std::vector<at::Tensor> parameters();

  // Model and optimizer state as bytes (a torch archive), for the run's checkpoint.
  std::string save_state();
  void load_state(const std::string& bytes);

  ClientParts& clients() { return *clients_; }

 private:
  ServerPart server_;
  std::unique_ptr<ClientParts> clients_;
  std::unique_ptr<ClientSyncStrategy> sync_;
  std::vector<double> client_weights_;  // N_k / N
  std::int64_t eval_batch_size_;
};

}  // namespace psl
