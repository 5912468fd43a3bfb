// The forward pass of many clients' parts as one computation, for local and fedavg sync:
// sample i runs through the weights of the client that owns it. A convolution becomes
// one grouped convolution (one group per sample), a linear layer one batched matrix
// product, instead of a small pass per client. The core reads the client part's layers
// itself, so a model plugin gets this without code of its own; a part with a module this
// file does not know, or with buffers, has no batched pass and trains client by client.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <optional>
#include <vector>

namespace psl {

class BatchedClientPass {
 public:
  // The pass for `part`, or nothing when one of its modules is not one of: Conv2d (zero
  // padding), Linear, GroupNorm, and the per-sample layers without weights (ReLU,
  // LeakyReLU, GELU, Tanh, Sigmoid, MaxPool2d, AvgPool2d, Flatten from dimension 1, Identity).
  // A part with more than kMostParameters parameters has none either: the batched pass
  // copies each active client's weights in and out, and at this size reading and writing
  // them in place, client by client, is faster (docs/benchmarks.md: the crossover lies
  // between 25,000 and 50,000 parameters on this machine).
  static std::optional<BatchedClientPass> of(const torch::nn::Sequential& part);
  static constexpr std::int64_t kMostParameters = 32768;

  // `weights`: per parameter of the part (its parameters() order), the [T, ...] stack of
  // T clients' values. `owner`: [N] long, which of the T clients sample i of `x` belongs to.
  at::Tensor forward(const std::vector<at::Tensor>& weights, const at::Tensor& owner, at::Tensor x) const;

 private:
  enum class Kind { Conv2d, Linear, GroupNorm, PerSample };
  struct Layer {
    Kind kind;
    mutable torch::nn::AnyModule module;  // AnyModule::forward is not const
    std::size_t first_weight = 0;  // index of its first parameter in `weights`
    bool bias = false;
  };
  std::vector<Layer> layers_;
};

}  // namespace psl
