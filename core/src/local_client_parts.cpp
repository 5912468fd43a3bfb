#include "local_client_parts.hpp"

#include <fmt/format.h>
#include <torch/types.h>

namespace psl {

LocalClientParts::LocalClientParts(const SplitModel& model, torch::nn::Sequential initial, const Dataset& data,
                                   std::int64_t clients, PartLayout layout, const OptimizerSettings& optimizer,
                                   bool fused)
    : data_(data), layout_(layout), fused_(fused && layout == PartLayout::Shared) {
  const auto shape = data.sample_shape();
  const auto classes = data.num_classes();
  if (layout == PartLayout::PerClient) {
    for (std::int64_t k = 1; k < clients; ++k) {
      auto replica = model.build(shape, classes).client;
      copy_weights(*initial, *replica);  // every client starts from the same weights
      parts_.push_back(std::make_unique<ClientPart>(replica, optimizer));
    }
    parts_.insert(parts_.begin(), std::make_unique<ClientPart>(initial, optimizer));
    scratch_ = model.build(shape, classes).client;
  } else {
    parts_.push_back(std::make_unique<ClientPart>(initial, optimizer));
  }
}

ClientOutputs LocalClientParts::forward(const PlannedStep& step) {
  ClientOutputs out;
  activations_.clear();
  if (step.takes.empty()) return out;
  const auto& labels = data_.labels(Split::Train);
  std::vector<std::int64_t> y(step.indices.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = labels[std::size_t(step.indices[i])];
  out.labels = torch::tensor(y);
  const at::Tensor x = data_.features(Split::Train, step.indices);
  if (fused_) {
    activations_.push_back(parts_[0]->module->forward(x));
  } else {
    std::int64_t at = 0;
    for (const auto& t : step.takes) {
      activations_.push_back(part_of(t.client).module->forward(x.narrow(0, at, t.count)));
      at += t.count;
    }
  }
  // The cut: no autograd graph crosses it, only tensors (as over a socket).
  for (const auto& a : activations_) out.pieces.push_back(a.detach());
  return out;
}

void LocalClientParts::backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) {
  // Only the clients of this step: the others' gradients are cleared before their next use.
  if (layout_ == PartLayout::Shared) {
    // The contributions add up, in take order, in the one part: the summed gradient.
    parts_[0]->optimizer->zero_grad();
    for (std::size_t i = 0; i < activations_.size(); ++i) activations_[i].backward(gradients[i]);
    parts_[0]->optimizer->step();
    ++parts_[0]->version;
  } else {
    for (std::size_t i = 0; i < activations_.size(); ++i) {
      ClientPart& part = part_of(step.takes[i].client);
      part.optimizer->zero_grad();
      activations_[i].backward(gradients[i]);
      part.optimizer->step();
      ++part.version;
    }
  }
  activations_.clear();
}

namespace {
std::vector<std::vector<at::Tensor>> all_weights(const std::vector<std::unique_ptr<ClientPart>>& parts) {
  std::vector<std::vector<at::Tensor>> out;
  for (const auto& p : parts) out.push_back(p->weights());
  return out;
}
}  // namespace

void LocalClientParts::average(const std::vector<double>& weights) {
  weighted_average(all_weights(parts_), weights, *scratch_);
  for (auto& p : parts_) {
    copy_weights(*scratch_, *p->module);
    ++p->version;
  }
}

void LocalClientParts::hand_over(std::int64_t from, std::int64_t to) {
  ClientPart& receiver = part_of(to);
  copy_weights(*part_of(from).module, *receiver.module);
  ++receiver.version;
}

torch::nn::Sequential LocalClientParts::evaluation_part(const std::vector<double>& weights) {
  if (layout_ == PartLayout::Shared) return parts_[0]->module;
  weighted_average(all_weights(parts_), weights, *scratch_);
  return scratch_;
}

void LocalClientParts::save(torch::serialize::OutputArchive& archive) {
  for (std::size_t k = 0; k < parts_.size(); ++k) {
    torch::serialize::OutputArchive client, opt;
    parts_[k]->module->save(client);
    parts_[k]->optimizer->save(opt);
    archive.write(fmt::format("client{}", k), client);
    archive.write(fmt::format("client_opt{}", k), opt);
  }
}

void LocalClientParts::load(torch::serialize::InputArchive& archive) {
  for (std::size_t k = 0; k < parts_.size(); ++k) {
    torch::serialize::InputArchive client, opt;
    archive.read(fmt::format("client{}", k), client);
    archive.read(fmt::format("client_opt{}", k), opt);
    parts_[k]->module->load(client);
    parts_[k]->optimizer->load(opt);
  }
}

}  // namespace psl
