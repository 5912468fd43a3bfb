// The learning side of a run: the server part (or one copy per client), the clients'
// parts (wherever they run), the run of each step's protocol schedule on them,
// evaluation and checkpoints. Knows nothing of samplers or time; the executor hands it
// planned steps, each with its schedule.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client_part.hpp"
#include "client_parts.hpp"
#include "psl/api/protocol.hpp"
#include "server_part.hpp"
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
  // `server`: the seeded network's server part; `clients` start from its client part;
  // `server_replica` builds another server part (for a protocol with a copy per client).
  // `optimizer` is training's, before the protocol's learning-rate scales.
  // client_sizes are N_k, the weights of averages.
  Trainer(torch::nn::Sequential server, std::function<torch::nn::Sequential()> server_replica,
          const OptimizerSettings& optimizer, std::unique_ptr<ClientParts> clients, const ProtocolShape& shape,
          std::vector<std::int64_t> client_sizes, std::int64_t eval_batch_size);
  ~Trainer();

  // One step of the plan, pass by pass as its schedule says. Returns the loss over the
  // step's samples; NaN if no client answered.
  double step(const PlannedStep& step);

  Evaluation evaluate(const Dataset& data);
  // All parameters of the client part used for evaluation, then the server part's.
  std::vector<at::Tensor> parameters();

  // Model and optimizer state as bytes (a torch archive), for the run's checkpoint.
  std::string save_state();
  void load_state(const std::string& bytes);
  // The client that trained last (a resumed run learns it from its checkpoint).
  std::int64_t last_active() const { return last_active_; }
  void set_last_active(std::int64_t client) { last_active_ = client; }

  // Every optimizer's learning rate, server's and clients', becomes its rate as built times
  // `factor` (training.lr_schedule).
  void scale_learning_rate(double factor);

  ClientParts& clients() { return *clients_; }

 private:
  ServerPart& server_for(std::int64_t client);
  std::vector<double> average_weights(AverageWeights kind) const;
  void average_servers(const std::vector<double>& weights);
  std::vector<double> evaluation_weights() const;
  torch::nn::Sequential evaluation_server();

  std::vector<ServerPart> servers_;  // one, or one per client
  double server_lr_ = 0;              // the server optimizers' rate as built
  std::unique_ptr<ClientParts> clients_;
  ProtocolShape shape_;
  std::vector<double> client_weights_;       // N_k / N
  std::vector<std::int64_t> samples_used_;   // per client, since the last average
  std::int64_t last_active_ = -1;
  torch::nn::Sequential server_scratch_{nullptr};  // the averaged server copies
  std::int64_t eval_batch_size_;
};

}  // namespace psl
