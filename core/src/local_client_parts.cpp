#include "local_client_parts.hpp"

#include <fmt/format.h>
#include <torch/types.h>

#include <unordered_set>

#include "convolution_backend.hpp"
#include "learning_rate.hpp"
#include "stacked_optimizer_step.hpp"

namespace psl {

namespace {
// Whether Module::clone() works for the whole tree: a plugin's own module type may not
// derive from torch::nn::Cloneable, and then clone() throws.
bool can_clone(const torch::nn::Module& module) {
  try {
    module.clone();
    return true;
  } catch (const c10::Error&) {
    return false;
  }
}
}  // namespace

LocalClientParts::LocalClientParts(const SplitModel& model, torch::nn::Sequential initial, const Dataset& data,
                                   std::int64_t clients, PartLayout layout, const OptimizerSettings& optimizer,
                                   bool fused)
    : model_(model),
      initial_(initial),
      data_(data),
      layout_(layout),
      optimizer_(optimizer),
      base_lr_(optimizer.lr),
      fused_(fused && layout == PartLayout::Shared),
      cloneable_(can_clone(*initial)),
      without_onednn_(runs_without_onednn(initial)) {
  parts_.push_back(std::make_unique<ClientPart>(initial, optimizer));
  if (layout == PartLayout::PerClient) {
    rows_.emplace(*parts_[0], clients);  // every client starts from the same weights
    scratch_ = replica();
    if (fused) batched_ = BatchedClientPass::of(initial);
  }
}

// Another module of the client part's architecture (for a working part, whose own weights
// never matter: it is bound to a client's rows before each use). A deep copy where each
// module can copy itself, otherwise a new build: building the whole network and dropping
// its server part left 640 KB of fragmented heap behind each time.
torch::nn::Sequential LocalClientParts::replica() const {
  if (cloneable_) return torch::nn::Sequential(std::dynamic_pointer_cast<torch::nn::SequentialImpl>(initial_->clone()));
  auto built = model_.build(data_.sample_shape(), data_.num_classes()).client;
  copy_weights(*initial_, *built);
  return built;
}

ClientPart& LocalClientParts::working_part(std::size_t take) {
  while (parts_.size() <= take) parts_.push_back(std::make_unique<ClientPart>(replica(), optimizer_));
  return *parts_[take];
}

// One take alone trains as its own part would. The planner refuses a client twice in one
// step; should such a step come anyway, its stacked rows would overwrite each other, so it
// trains client by client (two optimizer steps).
bool LocalClientParts::runs_batched(const PlannedStep& step) const {
  if (!batched_ || step.takes.size() < 2) return false;
  std::unordered_set<std::int64_t> seen;
  for (const auto& t : step.takes)
    if (!seen.insert(t.client).second) return false;
  return true;
}

ClientOutputs LocalClientParts::forward(const PlannedStep& step) {
  ClientOutputs out;
  activations_.clear();
  stacked_.clear();  // a step whose backward never came (its server pass failed) leaves nothing behind
  if (step.takes.empty()) return out;
  const auto& labels = data_.labels(Split::Train);
  std::vector<std::int64_t> y(step.indices.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = labels[std::size_t(step.indices[i])];
  out.labels = torch::tensor(y);
  const at::Tensor x = data_.features(Split::Train, step.indices);
  const bool batched = !fused_ && runs_batched(step);
  const OneDnnOffScope backend(without_onednn_ && !batched);  // the batched pass's grouped convolutions keep it
  if (fused_) {
    activations_.push_back(parts_[0]->module->forward(x));
  } else if (batched) {
    std::vector<std::int64_t> clients, owner;
    for (std::size_t i = 0; i < step.takes.size(); ++i) {
      clients.push_back(step.takes[i].client);
      owner.insert(owner.end(), std::size_t(step.takes[i].count), std::int64_t(i));
    }
    step_clients_ = torch::tensor(clients);
    stacked_ = rows_->gather_weights(step_clients_);
    for (auto& w : stacked_) w.requires_grad_(true);
    activations_.push_back(batched_->forward(stacked_, torch::tensor(owner), x));
  } else {
    std::int64_t at = 0;
    for (std::size_t i = 0; i < step.takes.size(); ++i) {
      const auto& t = step.takes[i];
      ClientPart* part = parts_[0].get();
      if (rows_) {
        part = &working_part(i);
        rows_->bind(t.client, *part);
      }
      activations_.push_back(part->module->forward(x.narrow(0, at, t.count)));
      at += t.count;
    }
  }
  // The cut: no autograd graph crosses it, only tensors (as over a socket).
  for (const auto& a : activations_) out.pieces.push_back(a.detach());
  return out;
}

void LocalClientParts::backward(const PlannedStep& step, const std::vector<at::Tensor>& gradients) {
  // Only the clients of this step: the others' gradients are cleared before their next use.
  const OneDnnOffScope backend(without_onednn_ && stacked_.empty());
  if (layout_ == PartLayout::Shared) {
    // The contributions add up, in take order, in the one part: the summed gradient.
    parts_[0]->optimizer->zero_grad();
    for (std::size_t i = 0; i < activations_.size(); ++i) activations_[i].backward(gradients[i]);
    parts_[0]->optimizer->step();
    ++parts_[0]->version;
  } else if (!stacked_.empty()) {
    activations_[0].backward(gradients[0]);
    const auto slots = stacked_optimizer_step(optimizer_, stacked_, rows_->gather_slots(step_clients_));
    rows_->scatter(step_clients_, stacked_, slots);
    for (const auto& t : step.takes) ++rows_->version(t.client);
    stacked_.clear();
  } else {
    for (std::size_t i = 0; i < activations_.size(); ++i) {
      ClientPart& part = *parts_[i];  // bound to the take's client in forward
      part.optimizer->zero_grad();
      activations_[i].backward(gradients[i]);
      part.optimizer->step();  // writes the client's rows in place
      rows_->keep_optimizer_state(step.takes[i].client, part);
      ++rows_->version(step.takes[i].client);
    }
  }
  activations_.clear();
}

void LocalClientParts::average_into_scratch(const std::vector<double>& weights) {
  // Client by client: views of every client's rows at once would cost about 1 KB each.
  weighted_average([this](std::size_t k) { return rows_->weights(std::int64_t(k)); }, weights, *scratch_);
}

void LocalClientParts::average(const std::vector<double>& weights) {
  average_into_scratch(weights);
  rows_->set_all_weights(weights_of(*scratch_));
  for (std::int64_t k = 0; k < rows_->clients(); ++k) ++rows_->version(k);
}

void LocalClientParts::hand_over(std::int64_t from, std::int64_t to) {
  rows_->copy_weights(from, to);
  ++rows_->version(to);
}

torch::nn::Sequential LocalClientParts::evaluation_part(const std::vector<double>& weights) {
  if (layout_ == PartLayout::Shared) return parts_[0]->module;
  average_into_scratch(weights);
  return scratch_;
}

// One module and one optimizer archive per client, as when every client had its own
// part object (checkpoints of either form load into the other).
void LocalClientParts::save(torch::serialize::OutputArchive& archive) {
  const std::int64_t clients = rows_ ? rows_->clients() : 1;
  for (std::int64_t k = 0; k < clients; ++k) {
    // The archive keeps the tensors it is given until it is written out, so each client
    // needs tensors of its own: a working part bound to the rows would leave every entry
    // naming the last client's.
    std::unique_ptr<ClientPart> copy;
    if (rows_) {
      copy = std::make_unique<ClientPart>(replica(), optimizer_);
      copy->set_weights(rows_->weights(k));
      copy->set_optimizer_state(rows_->optimizer_state(k));
    }
    const ClientPart& part = rows_ ? *copy : *parts_[0];
    torch::serialize::OutputArchive client, opt;
    part.module->save(client);
    part.optimizer->save(opt);
    archive.write(fmt::format("client{}", k), client);
    archive.write(fmt::format("client_opt{}", k), opt);
  }
}

void LocalClientParts::load(torch::serialize::InputArchive& archive) {
  const std::int64_t clients = rows_ ? rows_->clients() : 1;
  for (std::int64_t k = 0; k < clients; ++k) {
    ClientPart& part = *parts_[0];
    torch::serialize::InputArchive client, opt;
    archive.read(fmt::format("client{}", k), client);
    archive.read(fmt::format("client_opt{}", k), opt);
    part.module->load(client);  // replaces the module's tensors (not a copy into the rows)
    part.optimizer->load(opt);
    if (rows_) rows_->store(k, part);
  }
}

void LocalClientParts::scale_learning_rate(double factor) {
  optimizer_.lr = base_lr_ * factor;  // the stacked step's rate, and that of working parts made later
  for (const auto& part : parts_) set_learning_rate(*part->optimizer, optimizer_.lr);
}

}  // namespace psl
