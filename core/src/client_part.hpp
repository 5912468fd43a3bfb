// One client's part of the model as a client holds it: the module up to the cut, its own
// optimizer, and a version that counts the changes made to it. The same type serves a
// simulated client, a real client process, and the server's copy of the shared part.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "settings.hpp"

namespace psl {

struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::Sgd;
  double lr = 0.05, momentum = 0, weight_decay = 0;
};
inline OptimizerSettings optimizer_settings(const TrainingSettings& t) {
  return {t.optimizer, t.lr, t.momentum, t.weight_decay};
}
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const OptimizerSettings& settings);

struct ClientPart {
  ClientPart(torch::nn::Sequential module, const OptimizerSettings& settings);
  torch::nn::Sequential module;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  // How many changes (optimizer steps, averages) the part has seen: a client and the
  // server compare versions to know they mean the same weights.
  std::int64_t version = 0;

  // Parameters then buffers: what an average or an evaluation needs.
  std::vector<at::Tensor> weights() const;
  void set_weights(const std::vector<at::Tensor>& weights);  // throws std::invalid_argument on a mismatch
  // Weights, then the optimizer's per-parameter state in a fixed order (absent entries
  // as empty tensors): everything a client needs to go on exactly, as plain tensors
  // that can cross the wire or go into a file.
  std::vector<at::Tensor> state() const;
  void set_state(const std::vector<at::Tensor>& state);  // throws std::invalid_argument on a mismatch
  // The optimizer's part of state(): its per-parameter slots alone.
  std::vector<at::Tensor> optimizer_state() const;
  void set_optimizer_state(const std::vector<at::Tensor>& slots);  // throws std::invalid_argument on a mismatch
};

// Parameters then buffers of a module: what an average or an evaluation needs.
std::vector<at::Tensor> weights_of(const torch::nn::Module& module);

// The settings with the learning rate times `scale` (a protocol's split learning rates).
OptimizerSettings with_lr_scale(OptimizerSettings settings, double scale);

// Copies weights of `from` into `to` (same architecture).
void copy_weights(const torch::nn::Module& from, torch::nn::Module& to);

// target = sum_k weight_k * parts_k, for parameters and floating-point buffers (other
// buffers are zeroed). Every caller uses this one function, so that the average of the
// same parts is the same bits in process and over the network.
void weighted_average(const std::vector<std::vector<at::Tensor>>& parts, const std::vector<double>& weights,
                      torch::nn::Module& target);
// The same, with part k given by `part(k)`, asked once per k in order: the parts need not
// all be held at once (the views of 100,000 clients' rows alone take 100 MB).
void weighted_average(const std::function<std::vector<at::Tensor>(std::size_t)>& part,
                      const std::vector<double>& weights, torch::nn::Module& target);

}  // namespace psl
