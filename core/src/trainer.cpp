#include "trainer.hpp"

#include <torch/nn/functional/loss.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "learning_rate.hpp"

namespace psl {

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

Trainer::Trainer(torch::nn::Sequential server, std::function<torch::nn::Sequential()> server_replica,
                 const OptimizerSettings& optimizer, std::unique_ptr<ClientParts> clients, const ProtocolShape& shape,
                 std::vector<std::int64_t> client_sizes, std::int64_t eval_batch_size)
    : clients_(std::move(clients)),
      shape_(shape),
      samples_used_(client_sizes.size(), 0),
      eval_batch_size_(eval_batch_size) {
  const auto server_optimizer = with_lr_scale(optimizer, shape.server_lr_scale);
  server_lr_ = server_optimizer.lr;
  servers_.push_back({server, make_optimizer(server->parameters(), server_optimizer)});
  if (shape.server_per_client) {
    for (std::size_t k = 1; k < client_sizes.size(); ++k) {
      auto replica = server_replica();
      copy_weights(*server, *replica);  // every copy starts from the same weights
      servers_.push_back({replica, make_optimizer(replica->parameters(), server_optimizer)});
    }
    server_scratch_ = server_replica();
  }
  const double total = double(std::accumulate(client_sizes.begin(), client_sizes.end(), std::int64_t{0}));
  for (auto n : client_sizes) client_weights_.push_back(double(n) / total);
}

Trainer::~Trainer() = default;

void Trainer::scale_learning_rate(double factor) {
  for (auto& server : servers_) set_learning_rate(*server.optimizer, server_lr_ * factor);
  clients_->scale_learning_rate(factor);
}

ServerPart& Trainer::server_for(std::int64_t client) {
  return servers_[shape_.server_per_client ? std::size_t(client) : 0];
}

namespace {
// The part of a planned step that one pass trains: its takes, their samples and offsets.
// `starts[i]`: where take i's samples begin in step.indices.
PlannedStep pass_of(const PlannedStep& step, const Pass& pass, const std::vector<std::int64_t>& starts) {
  if (pass.takes.size() == step.takes.size()) return step;  // the whole step (takes are never repeated)
  PlannedStep out;
  out.epoch = step.epoch;
  out.step = step.step;
  for (const std::size_t i : pass.takes) {
    const Take& t = step.takes[i];
    out.takes.push_back(t);
    out.offsets.push_back(step.offsets[i]);
    const auto first = step.indices.begin() + starts[i];
    out.indices.insert(out.indices.end(), first, first + t.count);
    out.batch_size += t.count;
  }
  return out;
}
}  // namespace

double Trainer::step(const PlannedStep& step) {
  const StepSchedule planned_without =
      step.schedule.passes.empty() ? one_pass_schedule(step.takes.size()) : StepSchedule{};
  const StepSchedule& schedule = step.schedule.passes.empty() ? planned_without : step.schedule;
  std::vector<std::int64_t> starts;  // where each take's samples begin in step.indices, once per step
  std::int64_t at = 0;
  for (const auto& t : step.takes) starts.push_back(std::exchange(at, at + t.count));
  double loss_sum = 0, single_loss = NAN;
  std::int64_t trained = 0, passes_trained = 0;
  for (std::size_t p = 0; p < schedule.passes.size(); ++p) {
    const Pass& pass = schedule.passes[p];
    const PlannedStep part = pass_of(step, pass, starts);
    const std::int64_t first_client = part.takes.front().client;
    if (p < step.hand_over_from.size() && step.hand_over_from[p] >= 0)
      clients_->hand_over(step.hand_over_from[p], first_client);
    const ClientOutputs out = clients_->forward(part);
    if (out.empty()) continue;
    auto r = server_for(first_client).train(out);
    if (pass.average_cut_gradients) r.gradients = average_rows(r.gradients);
    clients_->backward(part, r.gradients);
    const std::int64_t n = out.labels.size(0);
    loss_sum += r.loss * double(n);
    trained += n;
    single_loss = r.loss;
    ++passes_trained;
    for (const auto& t : part.takes) samples_used_[std::size_t(t.client)] += t.count;
    last_active_ = part.takes.back().client;
  }
  if (schedule.average_clients || schedule.average_servers) {
    const auto weights = average_weights(schedule.weights);
    if (schedule.average_clients) clients_->average(weights);
    if (schedule.average_servers) average_servers(weights);
    std::fill(samples_used_.begin(), samples_used_.end(), 0);
  }
  if (trained == 0) return NAN;
  // One pass: its loss as the server computed it (the same bits as a plain training loop).
  return passes_trained == 1 ? single_loss : loss_sum / double(trained);
}

std::vector<double> Trainer::average_weights(AverageWeights kind) const {
  if (kind == AverageWeights::ShardSizes) return client_weights_;
  const double total = double(std::accumulate(samples_used_.begin(), samples_used_.end(), std::int64_t{0}));
  if (total == 0) return client_weights_;  // nothing trained since the last average
  std::vector<double> w;
  for (auto n : samples_used_) w.push_back(double(n) / total);
  return w;
}

void Trainer::average_servers(const std::vector<double>& weights) {
  std::vector<std::vector<at::Tensor>> all;
  for (const auto& s : servers_) all.push_back(weights_of(*s.module));
  weighted_average(all, weights, *server_scratch_);
  for (auto& s : servers_) copy_weights(*server_scratch_, *s.module);
}

std::vector<double> Trainer::evaluation_weights() const {
  if (!shape_.evaluate_last_active) return client_weights_;
  // The part the last client handed on (before any step, every part is the initial one).
  std::vector<double> one_hot(client_weights_.size(), 0.0);
  one_hot[std::size_t(std::max<std::int64_t>(last_active_, 0))] = 1.0;
  return one_hot;
}

torch::nn::Sequential Trainer::evaluation_server() {
  if (!shape_.server_per_client) return servers_[0].module;
  std::vector<std::vector<at::Tensor>> all;
  for (const auto& s : servers_) all.push_back(weights_of(*s.module));
  weighted_average(all, client_weights_, *server_scratch_);
  return server_scratch_;
}

Evaluation Trainer::evaluate(const Dataset& data) {
  c10::InferenceMode guard;  // no autograd state at all: cheaper than NoGradGuard
  auto client = clients_->evaluation_part(evaluation_weights());
  auto server = evaluation_server();
  client->eval();
  server->eval();
  const auto& labels = data.labels(Split::Test);
  const auto n = std::int64_t(labels.size());
  double loss_sum = 0;
  std::int64_t correct = 0;
  const std::int64_t classes = data.num_classes();
  // Per class: test samples, right answers, and predictions of it (for precision).
  at::Tensor per_class_total = torch::zeros({classes}, at::kLong), per_class_right = torch::zeros({classes}, at::kLong),
             per_class_predicted = torch::zeros({classes}, at::kLong);
  for (std::int64_t start = 0; start < n; start += eval_batch_size_) {
    const std::int64_t end = std::min(n, start + eval_batch_size_);
    std::vector<std::int64_t> idx(std::size_t(end - start));
    std::iota(idx.begin(), idx.end(), start);
    auto x = data.features(Split::Test, idx);
    auto y = torch::tensor(std::vector<std::int64_t>(labels.begin() + start, labels.begin() + end));
    auto logits = server->forward(client->forward(x));
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const auto predicted = logits.argmax(1);
    const auto right = predicted.eq(y);
    correct += right.sum().item<std::int64_t>();
    per_class_total += torch::bincount(y, {}, classes);
    per_class_right += torch::bincount(y.masked_select(right), {}, classes);
    per_class_predicted += torch::bincount(predicted, {}, classes);
  }
  client->train();
  server->train();
  Evaluation e{n ? double(correct) / double(n) : 0.0, n ? loss_sum / double(n) : 0.0, 0.0, {}};
  double f1_sum = 0;
  int f1_classes = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    const auto total = per_class_total[c].item<std::int64_t>(), right = per_class_right[c].item<std::int64_t>(),
               predicted = per_class_predicted[c].item<std::int64_t>();
    e.class_accuracy.push_back(total ? double(right) / double(total) : NAN);
    if (total + predicted == 0) continue;  // a class neither in the labels nor predicted
    f1_sum += 2.0 * double(right) / double(total + predicted);  // F1 = 2PR/(P+R) = 2 TP / (labels + predictions)
    ++f1_classes;
  }
  e.macro_f1 = f1_classes ? f1_sum / f1_classes : 0.0;
  return e;
}

std::vector<at::Tensor> Trainer::parameters() {
  std::vector<at::Tensor> out;
  for (const auto& p : clients_->evaluation_part(evaluation_weights())->parameters()) out.push_back(p.detach().clone());
  for (const auto& p : evaluation_server()->parameters()) out.push_back(p.detach().clone());
  return out;
}

std::string Trainer::save_state() {
  torch::serialize::OutputArchive archive;
  clients_->save(archive);
  for (std::size_t k = 0; k < servers_.size(); ++k) {
    torch::serialize::OutputArchive server, server_opt;
    servers_[k].module->save(server);
    servers_[k].optimizer->save(server_opt);
    const std::string suffix = k ? std::to_string(k) : "";  // one server part: the names of older checkpoints
    archive.write("server" + suffix, server);
    archive.write("server_opt" + suffix, server_opt);
  }
  archive.write("samples_used", torch::tensor(samples_used_));
  archive.write("last_active", torch::tensor(last_active_));
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
  clients_->load(archive);
  for (std::size_t k = 0; k < servers_.size(); ++k) {
    torch::serialize::InputArchive server, server_opt;
    const std::string suffix = k ? std::to_string(k) : "";
    archive.read("server" + suffix, server);
    archive.read("server_opt" + suffix, server_opt);
    servers_[k].module->load(server);
    servers_[k].optimizer->load(server_opt);
  }
  at::Tensor used;
  if (archive.try_read("samples_used", used)) {  // absent in checkpoints of psl before protocols
    if (used.numel() != std::int64_t(samples_used_.size()))
      throw std::invalid_argument("the checkpoint's protocol state is for another number of clients");
    for (std::size_t k = 0; k < samples_used_.size(); ++k) samples_used_[k] = used[std::int64_t(k)].item<std::int64_t>();
  }
  at::Tensor last;
  if (archive.try_read("last_active", last)) last_active_ = last.item<std::int64_t>();
}

}  // namespace psl
