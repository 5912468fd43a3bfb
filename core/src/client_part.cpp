#include "client_part.hpp"

#include <c10/util/string_utils.h>
#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <stdexcept>

namespace psl {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const OptimizerSettings& s) {
  if (s.kind == OptimizerKind::Adam)
    return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(s.lr).weight_decay(s.weight_decay));
  return std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay));
}

ClientPart::ClientPart(torch::nn::Sequential m, const OptimizerSettings& settings)
    : module(std::move(m)), optimizer(make_optimizer(module->parameters(), settings)) {}

namespace {
at::Tensor absent() { return at::empty({0}); }
at::Tensor or_absent(const at::Tensor& t) { return t.defined() ? t.detach().clone() : absent(); }
at::Tensor from_slot(const at::Tensor& t) { return t.numel() == 0 && t.dim() == 1 ? at::Tensor() : t.clone(); }

// The optimizer keeps its state per parameter under this key.
std::string state_key(const at::Tensor& param) { return c10::guts::to_string(param.unsafeGetTensorImpl()); }

// Tensors per parameter in the flat state, after the weights.
std::size_t slots_per_parameter(const torch::optim::Optimizer& o) {
  return dynamic_cast<const torch::optim::Adam*>(&o) ? 4 : 1;
}

void check_same(const at::Tensor& got, const at::Tensor& want, std::size_t index) {
  if (got.scalar_type() != want.scalar_type() || got.sizes() != want.sizes())
    throw std::invalid_argument(fmt::format("state tensor {} has the wrong type or shape", index));
}
}  // namespace

std::vector<at::Tensor> weights_of(const torch::nn::Module& module) {
  std::vector<at::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.detach());
  for (const auto& b : module.buffers()) out.push_back(b.detach());
  return out;
}

OptimizerSettings with_lr_scale(OptimizerSettings settings, double scale) {
  settings.lr *= scale;
  return settings;
}

std::vector<at::Tensor> ClientPart::weights() const { return weights_of(*module); }

void ClientPart::set_weights(const std::vector<at::Tensor>& w) {
  at::NoGradGuard guard;
  auto own = weights();
  if (w.size() != own.size())
    throw std::invalid_argument(fmt::format("{} weight tensors, the client part has {}", w.size(), own.size()));
  for (std::size_t i = 0; i < own.size(); ++i) check_same(w[i], own[i], i);
  for (std::size_t i = 0; i < own.size(); ++i) own[i].copy_(w[i]);
}

std::vector<at::Tensor> ClientPart::state() const {
  std::vector<at::Tensor> out;
  for (const auto& w : weights()) out.push_back(w.clone());
  for (auto& slot : optimizer_state()) out.push_back(std::move(slot));
  return out;
}

std::vector<at::Tensor> ClientPart::optimizer_state() const {
  std::vector<at::Tensor> out;
  const auto& states = optimizer->state();
  const bool adam = slots_per_parameter(*optimizer) == 4;
  for (const auto& p : module->parameters()) {
    const auto it = states.find(state_key(p));
    if (adam) {
      if (it == states.end()) {
        for (int i = 0; i < 4; ++i) out.push_back(absent());
        continue;
      }
      const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
      out.push_back(at::tensor(std::vector<std::int64_t>{s.step()}, at::kLong));
      out.push_back(or_absent(s.exp_avg()));
      out.push_back(or_absent(s.exp_avg_sq()));
      out.push_back(or_absent(s.max_exp_avg_sq()));
    } else {
      out.push_back(it == states.end()
                        ? absent()
                        : or_absent(static_cast<const torch::optim::SGDParamState&>(*it->second).momentum_buffer()));
    }
  }
  return out;
}

void ClientPart::set_state(const std::vector<at::Tensor>& state) {
  const std::size_t n_weights = module->parameters().size() + module->buffers().size();
  const std::size_t n_slots = slots_per_parameter(*optimizer) * module->parameters().size();
  if (state.size() != n_weights + n_slots)
    throw std::invalid_argument(fmt::format("{} state tensors, the client part with its optimizer has {}", state.size(),
                                            n_weights + n_slots));
  const auto split = state.begin() + std::ptrdiff_t(n_weights);
  set_weights(std::vector<at::Tensor>(state.begin(), split));
  set_optimizer_state(std::vector<at::Tensor>(split, state.end()));
}

void ClientPart::set_optimizer_state(const std::vector<at::Tensor>& slots_in) {
  const auto params = module->parameters();
  const std::size_t slots = slots_per_parameter(*optimizer);
  if (slots_in.size() != slots * params.size())
    throw std::invalid_argument(fmt::format("{} optimizer state tensors, the optimizer has {}", slots_in.size(),
                                            slots * params.size()));
  auto& states = optimizer->state();
  states.clear();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor* slot = &slots_in[slots * i];
    for (std::size_t j = slots == 4 ? 1 : 0; j < slots; ++j)
      if (slot[j].numel() && slot[j].sizes() != params[i].sizes())
        throw std::invalid_argument(fmt::format("optimizer state of parameter {} has the wrong shape", i));
    if (slots == 4) {
      if (slot[0].numel() == 0) continue;  // never stepped
      if (slot[0].scalar_type() != at::kLong || slot[0].numel() != 1)
        throw std::invalid_argument(fmt::format("optimizer step count of parameter {} is not one integer", i));
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(slot[0].item<std::int64_t>());
      s->exp_avg(from_slot(slot[1]));
      s->exp_avg_sq(from_slot(slot[2]));
      s->max_exp_avg_sq(from_slot(slot[3]));
      states[state_key(params[i])] = std::move(s);
    } else if (slot[0].numel()) {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(slot[0].clone());
      states[state_key(params[i])] = std::move(s);
    }
  }
}

void copy_weights(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard guard;
  auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(src[p.key()]);
  auto src_b = from.named_buffers();
  for (auto& b : to.named_buffers()) b.value().copy_(src_b[b.key()]);
}

void weighted_average(const std::vector<std::vector<at::Tensor>>& parts, const std::vector<double>& weights,
                      torch::nn::Module& target) {
  if (parts.size() != weights.size())
    throw std::invalid_argument(fmt::format("{} parts but {} weights to average them with", parts.size(), weights.size()));
  weighted_average([&parts](std::size_t k) { return parts[k]; }, weights, target);
}

void weighted_average(const std::function<std::vector<at::Tensor>(std::size_t)>& part,
                      const std::vector<double>& weights, torch::nn::Module& target) {
  torch::NoGradGuard guard;
  std::vector<at::Tensor> out;
  for (const auto& p : target.parameters()) out.push_back(p);
  for (const auto& b : target.buffers()) out.push_back(b);
  for (auto& t : out) t.zero_();
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const auto tensors = part(k);
    if (tensors.size() != out.size())
      throw std::invalid_argument(fmt::format("part {} has {} weight tensors, expected {}", k, tensors.size(), out.size()));
    for (std::size_t i = 0; i < out.size(); ++i)
      if (out[i].is_floating_point()) out[i].add_(tensors[i], weights[k]);
  }
}

}  // namespace psl
