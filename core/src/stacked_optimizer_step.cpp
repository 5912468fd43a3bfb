#include "stacked_optimizer_step.hpp"

#include <torch/optim/adam.h>
#include <torch/types.h>

namespace psl {

namespace {
at::Tensor or_zeros(const at::Tensor& slot, const at::Tensor& like) {
  return slot.defined() ? slot : at::zeros_like(like);
}

// A per-client [T] value shaped to broadcast over [T, ...] stacks like `param`.
at::Tensor per_client(const at::Tensor& values, const at::Tensor& param) {
  std::vector<std::int64_t> shape(std::size_t(param.dim()), 1);
  shape[0] = param.size(0);
  return values.to(param.scalar_type()).view(shape);
}

// torch::optim::SGD's step (no dampening, no Nesterov). A client's first step starts its
// momentum buffer from zero: 0 * momentum + d_p is d_p exactly, as torch's clone of d_p.
void sgd_step(const OptimizerSettings& s, const std::vector<at::Tensor>& params, std::vector<at::Tensor>& slots) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& p = params[i];
    at::Tensor d_p = p.grad();
    if (s.weight_decay != 0) d_p = d_p.add(p, s.weight_decay);
    if (s.momentum != 0) {
      slots[i] = or_zeros(slots[i], p).mul_(s.momentum).add_(d_p);
      d_p = slots[i];
    }
    p.add_(d_p, -s.lr);
  }
}

// torch::optim::Adam's step (no amsgrad), with a step count, so a bias correction, per client.
void adam_step(const OptimizerSettings& s, const std::vector<at::Tensor>& params, std::vector<at::Tensor>& slots) {
  const torch::optim::AdamOptions defaults(s.lr);
  const double beta1 = std::get<0>(defaults.betas()), beta2 = std::get<1>(defaults.betas());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& p = params[i];
    at::Tensor* slot = &slots[4 * i];  // step, exp_avg, exp_avg_sq, max_exp_avg_sq
    const std::int64_t clients = p.size(0);
    slot[0] = (slot[0].defined() ? slot[0] : at::zeros({clients, 1}, at::kLong)) + 1;
    const at::Tensor steps = slot[0].view({clients}).to(at::kDouble);
    const at::Tensor correction1 = 1 - at::pow(beta1, steps), correction2 = 1 - at::pow(beta2, steps);
    at::Tensor grad = p.grad();
    if (s.weight_decay != 0) grad = grad.add(p, s.weight_decay);
    at::Tensor exp_avg = or_zeros(slot[1], p).mul_(beta1).add_(grad, 1 - beta1);
    at::Tensor exp_avg_sq = or_zeros(slot[2], p).mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    const at::Tensor denom = (exp_avg_sq.sqrt() / per_client(correction2.sqrt(), p)).add_(defaults.eps());
    p.sub_(exp_avg / denom * per_client(s.lr / correction1, p));
    slot[1] = exp_avg;
    slot[2] = exp_avg_sq;
    slot[3] = at::Tensor();
  }
}
}  // namespace

std::vector<at::Tensor> stacked_optimizer_step(const OptimizerSettings& settings, const std::vector<at::Tensor>& params,
                                               std::vector<at::Tensor> slots) {
  at::NoGradGuard guard;
  if (settings.kind == OptimizerKind::Adam) {
    adam_step(settings, params, slots);
  } else {
    sgd_step(settings, params, slots);
  }
  return slots;
}

}  // namespace psl
