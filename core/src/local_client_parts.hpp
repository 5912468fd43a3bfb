// Simulated clients: every client part in this process, fed from the data set directly.
#pragma once

#include <memory>
#include <vector>

#include "client_part.hpp"
#include "client_parts.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"

namespace psl {

class LocalClientParts : public ClientParts {
 public:
  // `initial` is the seeded client part every client starts from; PerClient builds one
  // more copy per client from `model`. `fused` (Shared only): one forward and backward
  // call for the whole batch instead of one per take (same numbers up to rounding).
  LocalClientParts(const SplitModel& model, torch::nn::Sequential initial, const Dataset& data, std::int64_t clients,
                   PartLayout layout, const OptimizerSettings& optimizer, bool fused);

  ClientOutputs forward(const PlannedStep& step) override;
  void backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) override;
  void average(const std::vector<double>& weights) override;
  void hand_over(std::int64_t from, std::int64_t to) override;
  torch::nn::Sequential evaluation_part(const std::vector<double>& weights) override;
  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  ClientPart& part_of(std::int64_t client) { return *parts_[layout_ == PartLayout::Shared ? 0 : std::size_t(client)]; }

  const Dataset& data_;
  PartLayout layout_;
  bool fused_;
  std::vector<std::unique_ptr<ClientPart>> parts_;  // one (Shared) or one per client
  torch::nn::Sequential scratch_{nullptr};          // PerClient: the average, for evaluation
  std::vector<at::Tensor> activations_;             // per piece, with its autograd graph, until backward
};

}  // namespace psl
