#include "client_rows.hpp"

#include <torch/types.h>

#include <algorithm>

namespace psl {

namespace {
at::Tensor stacked(const at::Tensor& t, std::int64_t rows) {
  auto shape = t.sizes().vec();
  shape.insert(shape.begin(), rows);
  return t.unsqueeze(0).expand(shape).contiguous();
}
}  // namespace

ClientRows::ClientRows(const ClientPart& initial, std::int64_t clients)
    : versions_(std::size_t(clients), initial.version) {
  torch::NoGradGuard guard;
  for (const auto& w : initial.weights()) weights_.push_back(stacked(w, clients));
  const auto slots = initial.optimizer_state();
  slots_.resize(slots.size());
  present_.assign(slots.size(), std::vector<bool>(std::size_t(clients), false));
  if (std::any_of(slots.begin(), slots.end(), [](const at::Tensor& s) { return s.numel() > 0; }))
    for (std::int64_t k = 0; k < clients; ++k) keep_slots(k, slots);
}

std::vector<at::Tensor> ClientRows::weights(std::int64_t k) const {
  std::vector<at::Tensor> out;
  for (const auto& w : weights_) out.push_back(w[k]);
  return out;
}

void ClientRows::bind(std::int64_t k, ClientPart& work) const {
  // The module's own handles (not detached copies), so that the module computes with the rows.
  std::size_t i = 0;
  for (auto& p : work.module->parameters()) p.set_data(weights_[i++][k]);
  for (auto& b : work.module->buffers()) b.set_data(weights_[i++][k]);
  if (has_optimizer_state(k)) {
    work.set_optimizer_state(optimizer_state(k));
  } else {
    work.optimizer->state().clear();
  }
}

std::vector<at::Tensor> ClientRows::optimizer_state(std::int64_t k) const {
  std::vector<at::Tensor> slots(slots_.size());
  for (std::size_t j = 0; j < slots_.size(); ++j)
    slots[j] = present_[j][std::size_t(k)] ? slots_[j][k] : at::empty({0});
  return slots;
}

bool ClientRows::has_optimizer_state(std::int64_t k) const {
  return std::any_of(present_.begin(), present_.end(), [k](const auto& p) { return p[std::size_t(k)]; });
}

void ClientRows::keep_optimizer_state(std::int64_t k, const ClientPart& work) {
  if (!has_optimizer_state(k) && work.optimizer->state().empty()) return;  // plain SGD: no state ever
  keep_slots(k, work.optimizer_state());
}

void ClientRows::store(std::int64_t k, const ClientPart& work) {
  torch::NoGradGuard guard;
  const auto own = work.weights();
  for (std::size_t i = 0; i < weights_.size(); ++i) weights_[i][k].copy_(own[i]);
  keep_optimizer_state(k, work);
}

void ClientRows::set_all_weights(const std::vector<at::Tensor>& weights) {
  torch::NoGradGuard guard;
  for (std::size_t i = 0; i < weights_.size(); ++i) weights_[i].copy_(weights[i].unsqueeze(0).expand_as(weights_[i]));
}

void ClientRows::copy_weights(std::int64_t from, std::int64_t to) {
  torch::NoGradGuard guard;
  for (auto& w : weights_) w[to].copy_(w[from]);
}

std::vector<at::Tensor> ClientRows::gather_weights(const at::Tensor& clients) const {
  std::vector<at::Tensor> out;
  for (const auto& w : weights_) out.push_back(w.index_select(0, clients));
  return out;
}

std::vector<at::Tensor> ClientRows::gather_slots(const at::Tensor& clients) const {
  torch::NoGradGuard guard;
  std::vector<at::Tensor> out(slots_.size());
  const auto* k = clients.data_ptr<std::int64_t>();
  for (std::size_t j = 0; j < slots_.size(); ++j) {
    if (!slots_[j].defined()) continue;
    out[j] = slots_[j].index_select(0, clients);
    for (std::int64_t t = 0; t < clients.numel(); ++t)
      if (!present_[j][std::size_t(k[t])]) out[j][t].zero_();  // a row never written, or left from a loaded state
  }
  return out;
}

void ClientRows::scatter(const at::Tensor& clients, const std::vector<at::Tensor>& weights,
                         const std::vector<at::Tensor>& slots) {
  torch::NoGradGuard guard;
  for (std::size_t i = 0; i < weights_.size(); ++i) weights_[i].index_copy_(0, clients, weights[i].detach());
  const auto* k = clients.data_ptr<std::int64_t>();
  for (std::size_t j = 0; j < slots.size(); ++j) {
    if (!slots[j].defined()) continue;
    allocate_slot(j, slots[j][0]);
    slots_[j].index_copy_(0, clients, slots[j]);
    for (std::int64_t t = 0; t < clients.numel(); ++t) present_[j][std::size_t(k[t])] = true;
  }
}

void ClientRows::allocate_slot(std::size_t j, const at::Tensor& like) {
  if (slots_[j].defined()) return;
  auto shape = like.sizes().vec();
  shape.insert(shape.begin(), clients());
  slots_[j] = at::zeros(shape, like.options());
}

void ClientRows::keep_slots(std::int64_t k, const std::vector<at::Tensor>& slots) {
  torch::NoGradGuard guard;
  for (std::size_t j = 0; j < slots.size(); ++j) {
    const bool present = slots[j].numel() > 0;
    present_[j][std::size_t(k)] = present;
    if (!present) continue;
    allocate_slot(j, slots[j]);
    slots_[j][k].copy_(slots[j]);
  }
}

}  // namespace psl
