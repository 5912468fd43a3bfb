#include "trainer.hpp"

#include <fmt/format.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include <numeric>

namespace psl {

namespace {
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params, const TrainerConfig& c) {
  if (c.optimizer == OptimizerKind::Adam)
    return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  return std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
}

// Copies parameters and buffers of `from` into `to` (same architecture).
void copy_module(const torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard guard;
  auto src = from.named_parameters();
  for (auto& p : to.named_parameters()) p.value().copy_(src[p.key()]);
  auto src_b = from.named_buffers();
  for (auto& b : to.named_buffers()) b.value().copy_(src_b[b.key()]);
}
}  // namespace

struct Trainer::State {
  TrainerConfig config;
  std::vector<std::int64_t> client_sizes;
  std::vector<torch::nn::Sequential> clients;  // one (shared) or one per client
  torch::nn::Sequential server;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> client_opts;
  std::unique_ptr<torch::optim::Optimizer> server_opt;
  std::int64_t steps = 0;
  bool shared() const { return config.client_sync == ClientSync::Shared; }

  // The client part used for evaluation: the shared one, or the N_k-weighted average.
  torch::nn::Sequential eval_client() const {
    if (clients.size() == 1) return clients[0];
    average_into(*scratch.ptr());
    return scratch;
  }
  void average_into(torch::nn::Module& target) const {
    torch::NoGradGuard guard;
    const double total = double(std::accumulate(client_sizes.begin(), client_sizes.end(), std::int64_t{0}));
    auto params = target.parameters();
    auto buffers = target.buffers();
    for (auto& p : params) p.zero_();
    for (auto& b : buffers) b.zero_();
    for (std::size_t k = 0; k < clients.size(); ++k) {
      const double w = double(client_sizes[k]) / total;
      auto cp = clients[k]->parameters();
      for (std::size_t i = 0; i < params.size(); ++i) params[i].add_(cp[i], w);
      auto cb = clients[k]->buffers();
      for (std::size_t i = 0; i < buffers.size(); ++i)
        if (buffers[i].is_floating_point()) buffers[i].add_(cb[i], w);
    }
  }
  torch::nn::Sequential scratch{nullptr};
};

std::vector<std::int64_t> measure_activation_shape(torch::nn::Sequential& client,
                                                   const std::vector<std::int64_t>& sample_shape) {
  torch::NoGradGuard guard;
  std::vector<std::int64_t> one = {1};
  one.insert(one.end(), sample_shape.begin(), sample_shape.end());
  return client->forward(torch::zeros(one)).sizes().slice(1).vec();
}

double activation_bytes(const std::vector<std::int64_t>& activation_shape) {
  double n = 4;  // float32
  for (auto d : activation_shape) n *= double(d);
  return n;
}

Trainer::Trainer(const SplitModel& model, const std::vector<std::int64_t>& sample_shape, std::int64_t num_classes,
                 std::vector<std::int64_t> client_sizes, TrainerConfig config)
    : s_(std::make_unique<State>()) {
  s_->config = std::move(config);
  s_->client_sizes = std::move(client_sizes);
  SplitNetwork net = model.build(sample_shape, num_classes);
  s_->server = net.server;
  s_->clients.push_back(net.client);
  if (!s_->shared()) {
    // Every replica starts from the same weights.
    for (std::size_t k = 1; k < s_->client_sizes.size(); ++k) {
      auto replica = model.build(sample_shape, num_classes).client;
      copy_module(*net.client, *replica);
      s_->clients.push_back(replica);
    }
    s_->scratch = model.build(sample_shape, num_classes).client;
  }
  for (auto& c : s_->clients) s_->client_opts.push_back(make_optimizer(c->parameters(), s_->config));
  s_->server_opt = make_optimizer(s_->server->parameters(), s_->config);

  activation_shape_ = measure_activation_shape(net.client, sample_shape);
  activation_bytes_ = activation_bytes(activation_shape_);
}

Trainer::~Trainer() = default;

double Trainer::step(const std::vector<Take>& takes, const at::Tensor& x, const at::Tensor& y) {
  State& s = *s_;
  // Client side: activations per take (fused into one call where the model is shared).
  std::vector<at::Tensor> acts;
  at::Tensor fused_act;
  std::vector<at::Tensor> pieces;
  if (s.shared() && s.config.fused) {
    fused_act = s.clients[0]->forward(x);
    pieces.push_back(fused_act.detach());
  } else {
    std::int64_t at = 0;
    for (const auto& t : takes) {
      auto& client = s.clients[s.shared() ? 0 : std::size_t(t.client)];
      acts.push_back(client->forward(x.narrow(0, at, t.count)));
      pieces.push_back(acts.back().detach());
      at += t.count;
    }
  }
  // The cut: no autograd graph crosses it, only tensors (as over a socket).
  at::Tensor smashed = (pieces.size() == 1 ? pieces[0] : torch::cat(pieces)).requires_grad_();

  // Server side: one loss over the global batch.
  s.server_opt->zero_grad();
  auto loss = torch::nn::functional::cross_entropy(s.server->forward(smashed), y);
  loss.backward();
  at::Tensor grad = smashed.grad();

  // Back to the clients: each gets the gradient of its own activations. In shared mode
  // the contributions add up in the one client part: the summed client gradient.
  // Only the clients of this step: the others' gradients are cleared before their next use.
  if (s.shared()) {
    s.client_opts[0]->zero_grad();
  } else {
    for (const auto& t : takes) s.client_opts[std::size_t(t.client)]->zero_grad();
  }
  if (fused_act.defined()) {
    fused_act.backward(grad);
    s.client_opts[0]->step();
  } else {
    std::int64_t at = 0;
    for (std::size_t i = 0; i < takes.size(); ++i) {
      acts[i].backward(grad.narrow(0, at, takes[i].count));
      at += takes[i].count;
      if (!s.shared()) s.client_opts[std::size_t(takes[i].client)]->step();
    }
    if (s.shared()) s.client_opts[0]->step();
  }
  s.server_opt->step();

  ++s.steps;
  if (s.config.client_sync == ClientSync::FedAvg && s.steps % s.config.sync_every_steps == 0) {
    s.average_into(*s.scratch.ptr());
    for (auto& c : s.clients) copy_module(*s.scratch, *c);
  }
  return loss.item<double>();
}

double Trainer::server_step(const std::vector<at::Tensor>& activations, const at::Tensor& labels,
                            std::vector<at::Tensor>& gradients) {
  State& s = *s_;
  at::Tensor smashed = (activations.size() == 1 ? activations[0] : torch::cat(activations)).requires_grad_();
  s.server_opt->zero_grad();
  auto loss = torch::nn::functional::cross_entropy(s.server->forward(smashed), labels);
  loss.backward();
  s.server_opt->step();
  gradients.clear();
  std::int64_t at = 0;
  for (const auto& a : activations) {
    gradients.push_back(smashed.grad().narrow(0, at, a.size(0)).contiguous());
    at += a.size(0);
  }
  ++s.steps;
  return loss.item<double>();
}

void Trainer::apply_client_gradients(const std::vector<std::vector<at::Tensor>>& per_client) {
  State& s = *s_;
  s.client_opts[0]->zero_grad();
  auto params = s.clients[0]->parameters();
  torch::NoGradGuard guard;
  for (const auto& grads : per_client) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      auto& g = params[i].mutable_grad();
      if (g.defined()) g.add_(grads[i]);
      else g = grads[i].clone();
    }
  }
  if (!per_client.empty()) s.client_opts[0]->step();
}

std::vector<at::Tensor> Trainer::client_state() const {
  std::vector<at::Tensor> out;
  for (const auto& p : s_->clients[0]->parameters()) out.push_back(p.detach());
  for (const auto& b : s_->clients[0]->buffers()) out.push_back(b.detach());
  return out;
}

std::vector<std::vector<std::int64_t>> Trainer::client_gradient_shapes() const {
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& p : s_->clients[0]->parameters()) out.push_back(p.sizes().vec());
  return out;
}

Evaluation Trainer::evaluate(const Dataset& data) const {
  torch::NoGradGuard guard;
  auto client = s_->eval_client();
  client->eval();
  s_->server->eval();
  const auto& labels = data.labels(Split::Test);
  const auto n = std::int64_t(labels.size());
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < n; start += s_->config.eval_batch_size) {
    const std::int64_t end = std::min(n, start + s_->config.eval_batch_size);
    std::vector<std::int64_t> idx(std::size_t(end - start));
    std::iota(idx.begin(), idx.end(), start);
    auto x = data.features(Split::Test, idx);
    auto y = torch::tensor(std::vector<std::int64_t>(labels.begin() + start, labels.begin() + end));
    auto logits = s_->server->forward(client->forward(x));
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
  }
  client->train();
  s_->server->train();
  return {n ? double(correct) / double(n) : 0.0, n ? loss_sum / double(n) : 0.0};
}

std::vector<at::Tensor> Trainer::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& p : s_->eval_client()->parameters()) out.push_back(p.detach().clone());
  for (const auto& p : s_->server->parameters()) out.push_back(p.detach().clone());
  return out;
}

std::string Trainer::save_state() const {
  torch::serialize::OutputArchive archive;
  for (std::size_t k = 0; k < s_->clients.size(); ++k) {
    torch::serialize::OutputArchive client, opt;
    s_->clients[k]->save(client);
    s_->client_opts[k]->save(opt);
    archive.write(fmt::format("client{}", k), client);
    archive.write(fmt::format("client_opt{}", k), opt);
  }
  torch::serialize::OutputArchive server, server_opt;
  s_->server->save(server);
  s_->server_opt->save(server_opt);
  archive.write("server", server);
  archive.write("server_opt", server_opt);
  archive.write("steps", torch::tensor(s_->steps));
  std::string bytes;
  archive.save_to([&bytes](const void* data, std::size_t n) {
    bytes.append(static_cast<const char*>(data), n);
    return n;
  });
  return bytes;
}

void Trainer::load_state(const std::string& bytes) {
  torch::serialize::InputArchive archive;
  archive.load_from(bytes.data(), bytes.size());
  for (std::size_t k = 0; k < s_->clients.size(); ++k) {
    torch::serialize::InputArchive client, opt;
    archive.read(fmt::format("client{}", k), client);
    archive.read(fmt::format("client_opt{}", k), opt);
    s_->clients[k]->load(client);
    s_->client_opts[k]->load(opt);
  }
  torch::serialize::InputArchive server, server_opt;
  archive.read("server", server);
  archive.read("server_opt", server_opt);
  s_->server->load(server);
  s_->server_opt->load(server_opt);
  at::Tensor steps;
  archive.read("steps", steps);
  s_->steps = steps.item<std::int64_t>();
}

}  // namespace psl

