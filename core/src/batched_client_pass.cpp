#include "batched_client_pass.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/pooling.h>
#include <torch/types.h>

#include <algorithm>

namespace psl {

namespace {
bool per_sample_without_weights(const torch::nn::Module& m) {
  if (auto flatten = m.as<torch::nn::Flatten>()) return flatten->options.start_dim() >= 1;
  return m.as<torch::nn::ReLU>() || m.as<torch::nn::LeakyReLU>() || m.as<torch::nn::GELU>() ||
         m.as<torch::nn::Tanh>() || m.as<torch::nn::Sigmoid>() || m.as<torch::nn::MaxPool2d>() ||
         m.as<torch::nn::AvgPool2d>() || m.as<torch::nn::Identity>();
}

bool zero_padded(const torch::nn::detail::ConvNdOptions<2>& o) {
  return c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) && c10::get_if<torch::ExpandingArray<2>>(&o.padding());
}

// `w` ([T, C]) picked per sample and shaped to scale x's channels ([N, C, ...]).
at::Tensor per_channel(const at::Tensor& w, const at::Tensor& owner, const at::Tensor& x) {
  std::vector<std::int64_t> shape = {x.size(0), x.size(1)};
  shape.resize(std::size_t(x.dim()), 1);
  return w.index_select(0, owner).view(shape);
}

// Where each sample goes in a block of [clients, widest, ...] (linear layers).
struct SampleSlots {
  std::int64_t widest = 0;  // the most samples any one client has
  at::Tensor position;      // [N] long: sample i's row in the block, owner * widest + its rank
};
SampleSlots sample_slots(const at::Tensor& owner) {
  const auto* o = owner.data_ptr<std::int64_t>();
  std::vector<std::int64_t> rank(std::size_t(owner.numel())), seen;
  for (std::size_t i = 0; i < rank.size(); ++i) {
    if (std::size_t(o[i]) >= seen.size()) seen.resize(std::size_t(o[i]) + 1, 0);
    rank[i] = seen[std::size_t(o[i])]++;
  }
  SampleSlots out;
  out.widest = seen.empty() ? 0 : *std::max_element(seen.begin(), seen.end());
  for (std::size_t i = 0; i < rank.size(); ++i) rank[i] += o[i] * out.widest;
  out.position = torch::tensor(rank);
  return out;
}

// Appends `part`'s layers, or returns false at the first module the pass does not know.
bool collect(const torch::nn::Sequential& part, std::vector<torch::nn::AnyModule>& out) {
  for (const auto& m : *part) {
    if (auto inner = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(m.ptr())) {
      if (!collect(torch::nn::Sequential(inner), out)) return false;
      continue;
    }
    out.push_back(m);
  }
  return true;
}
}  // namespace

std::optional<BatchedClientPass> BatchedClientPass::of(const torch::nn::Sequential& part) {
  if (!part->buffers().empty()) return std::nullopt;  // running statistics are not per client
  std::int64_t parameters = 0;
  for (const auto& p : part->parameters()) parameters += p.numel();
  if (parameters > kMostParameters) return std::nullopt;
  std::vector<torch::nn::AnyModule> modules;
  if (!collect(part, modules)) return std::nullopt;
  BatchedClientPass pass;
  std::size_t weight = 0;
  for (const auto& m : modules) {
    Layer layer{Kind::PerSample, m, weight, false};
    const auto& module = *m.ptr();
    if (auto conv = module.as<torch::nn::Conv2d>()) {
      if (!zero_padded(conv->options)) return std::nullopt;
      layer.kind = Kind::Conv2d;
      layer.bias = conv->options.bias();
    } else if (auto linear = module.as<torch::nn::Linear>()) {
      layer.kind = Kind::Linear;
      layer.bias = linear->options.bias();
    } else if (auto norm = module.as<torch::nn::GroupNorm>()) {
      layer.kind = Kind::GroupNorm;
      layer.bias = norm->options.affine();
    } else if (!per_sample_without_weights(module)) {
      return std::nullopt;
    }
    const std::size_t own = module.parameters().size();
    std::size_t expected = 0;  // weight and bias of a convolution or linear layer; scale and shift of a norm
    if (layer.kind == Kind::Conv2d || layer.kind == Kind::Linear) expected = layer.bias ? 2 : 1;
    if (layer.kind == Kind::GroupNorm && layer.bias) expected = 2;
    if (own != expected) return std::nullopt;  // a subclass with parameters of its own
    weight += own;
    pass.layers_.push_back(std::move(layer));
  }
  return pass;
}

at::Tensor BatchedClientPass::forward(const std::vector<at::Tensor>& weights, const at::Tensor& owner,
                                      at::Tensor x) const {
  const std::int64_t n = x.size(0);
  const SampleSlots slots = sample_slots(owner);
  for (const auto& layer : layers_) {
    const auto& module = *layer.module.ptr();
    const at::Tensor* w = weights.data() + layer.first_weight;
    switch (layer.kind) {
      case Kind::Conv2d: {
        // One group per sample: sample i's channels meet only its client's filters.
        const auto& o = module.as<torch::nn::Conv2d>()->options;
        const at::Tensor filters = w[0].index_select(0, owner);  // [N, out, in / groups, kh, kw]
        auto shape = filters.sizes().vec();
        shape.erase(shape.begin());
        shape[0] *= n;
        const at::Tensor bias = layer.bias ? w[1].index_select(0, owner).reshape({-1}) : at::Tensor();
        const auto padding = *c10::get_if<torch::ExpandingArray<2>>(&o.padding());
        const at::Tensor y = at::conv2d(x.reshape({1, n * x.size(1), x.size(2), x.size(3)}), filters.reshape(shape),
                                        bias, *o.stride(), *padding, *o.dilation(), o.groups() * n);
        x = y.view({n, o.out_channels(), y.size(2), y.size(3)});
        break;
      }
      case Kind::Linear: {
        // One matrix product per client over its samples, all in one batched product:
        // the samples sit in a [T, most samples of a client, ...] block (zero rows pad
        // the clients with fewer), so each client's weights are read once and not copied.
        const std::int64_t clients = w[0].size(0), rows = x.numel() / (n * x.size(-1));
        const at::Tensor block = at::zeros({clients * slots.widest, rows, x.size(-1)}, x.options())
                                     .index_copy(0, slots.position, x.reshape({n, rows, x.size(-1)}))
                                     .view({clients, -1, x.size(-1)});
        at::Tensor y = at::bmm(block, w[0].transpose(1, 2))
                           .view({clients * slots.widest, rows, -1})
                           .index_select(0, slots.position);
        if (layer.bias) y = y + w[1].index_select(0, owner).unsqueeze(1);
        auto shape = x.sizes().vec();
        shape.back() = y.size(-1);
        x = y.view(shape);
        break;
      }
      case Kind::GroupNorm: {
        const auto& o = module.as<torch::nn::GroupNorm>()->options;
        x = at::group_norm(x, o.num_groups(), {}, {}, o.eps());
        if (layer.bias) x = x * per_channel(w[0], owner, x) + per_channel(w[1], owner, x);
        break;
      }
      case Kind::PerSample:
        x = layer.module.forward(x);
        break;
    }
  }
  return x;
}

}  // namespace psl
