#include "server_part.hpp"

#include <torch/nn/functional/loss.h>

#include <algorithm>

namespace psl {

ClientParts::~ClientParts() = default;

ServerPart::Result ServerPart::train(const ClientOutputs& out) {
  at::Tensor smashed = (out.pieces.size() == 1 ? out.pieces[0] : torch::cat(out.pieces)).requires_grad_();
  optimizer->zero_grad();
  auto loss = torch::nn::functional::cross_entropy(module->forward(smashed), out.labels);
  loss.backward();
  optimizer->step();
  Result r{loss.item<double>(), {}};
  std::int64_t at = 0;
  for (const auto& piece : out.pieces) {
    r.gradients.push_back(smashed.grad().narrow(0, at, piece.size(0)));
    at += piece.size(0);
  }
  return r;
}

std::vector<at::Tensor> average_rows(const std::vector<at::Tensor>& gradients) {
  if (gradients.size() < 2) return gradients;
  std::int64_t rows = 0;
  for (const auto& g : gradients) rows = std::max(rows, g.size(0));
  auto shape = gradients[0].sizes().vec();
  shape[0] = rows;
  at::Tensor sum = torch::zeros(shape, gradients[0].options());
  at::Tensor count = torch::zeros({rows}, gradients[0].options());
  for (const auto& g : gradients) {  // in take order: the same sum on every transport
    sum.narrow(0, 0, g.size(0)).add_(g);
    count.narrow(0, 0, g.size(0)).add_(1.0);
  }
  shape.assign(shape.size(), 1);
  shape[0] = rows;
  const at::Tensor mean = sum / count.view(shape);
  std::vector<at::Tensor> out;
  for (const auto& g : gradients) out.push_back(mean.narrow(0, 0, g.size(0)));
  return out;
}

}  // namespace psl
