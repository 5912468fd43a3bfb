// Simulated clients: every client part in this process, fed from the data set directly.
#pragma once

#include <memory>
#include <vector>

#include <optional>

#include "client_part.hpp"
#include "client_parts.hpp"
#include "batched_client_pass.hpp"
#include "client_rows.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"

namespace psl {

class LocalClientParts : public ClientParts {
 public:
  // `initial` is the seeded client part every client starts from; PerClient keeps each
  // client's copy as rows (client_rows.hpp) and trains a step's takes on working parts.
  // `fused`: one forward and backward call for the whole batch instead of one per take
  // (same numbers up to rounding). Shared: the one part on the whole batch; PerClient:
  // every client's part at once (batched_client_pass.hpp) where the part's layers allow.
  LocalClientParts(const SplitModel& model, torch::nn::Sequential initial, const Dataset& data, std::int64_t clients,
                   PartLayout layout, const OptimizerSettings& optimizer, bool fused);

  ClientOutputs forward(const PlannedStep& step) override;
  void backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) override;
  void average(const std::vector<double>& weights) override;
  void hand_over(std::int64_t from, std::int64_t to) override;
  torch::nn::Sequential evaluation_part(const std::vector<double>& weights) override;
  void save(torch::serialize::OutputArchive& archive) override;
  void load(torch::serialize::InputArchive& archive) override;
  void scale_learning_rate(double factor) override;

 private:
  torch::nn::Sequential replica() const;
  ClientPart& working_part(std::size_t take);  // PerClient: the part that trains the step's take-th take
  void average_into_scratch(const std::vector<double>& weights);  // scratch_ = the weighted average of the rows
  bool runs_batched(const PlannedStep& step) const;

  const SplitModel& model_;
  torch::nn::Sequential initial_;
  const Dataset& data_;
  PartLayout layout_;
  OptimizerSettings optimizer_;
  double base_lr_;  // optimizer_.lr as built; scale_learning_rate multiplies it
  bool fused_, cloneable_;
  bool without_onednn_;  // the part's convolutions are faster without oneDNN (convolution_backend.hpp)
  // Shared: the one part. PerClient: working parts, one per take of a step, bound to the
  // take's client's rows (parts_[0] also serves save and load).
  std::vector<std::unique_ptr<ClientPart>> parts_;
  std::optional<ClientRows> rows_;                 // PerClient: every client's part
  torch::nn::Sequential scratch_{nullptr};         // PerClient: the average, for evaluation
  std::vector<at::Tensor> activations_;            // per piece, with its autograd graph, until backward
  std::optional<BatchedClientPass> batched_;       // PerClient and fused, when the part's layers allow
  at::Tensor step_clients_;                        // a batched step's clients, [T] long, until backward
  std::vector<at::Tensor> stacked_;                // their parameters, [T, ...] leaves, until backward
};

}  // namespace psl
