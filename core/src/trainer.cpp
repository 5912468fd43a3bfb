#include "trainer.hpp"

#include <torch/nn/functional/loss.h>
#include <torch/serialize.h>

#include <numeric>

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

Trainer::Trainer(torch::nn::Sequential server, const OptimizerSettings& optimizer, std::unique_ptr<ClientParts> clients,
                 std::unique_ptr<ClientSyncStrategy> sync, std::vector<std::int64_t> client_sizes,
                 std::int64_t eval_batch_size)
    : server_{server, make_optimizer(server->parameters(), optimizer)},
      clients_(std::move(clients)),
      sync_(std::move(sync)),
      eval_batch_size_(eval_batch_size) {
  const double total = double(std::accumulate(client_sizes.begin(), client_sizes.end(), std::int64_t{0}));
  for (auto n : client_sizes) client_weights_.push_back(double(n) / total);
}

Trainer::~Trainer() = default;

double Trainer::step(const PlannedStep& step) { return sync_->step(step, *clients_, server_); }

Evaluation Trainer::evaluate(const Dataset& data) {
  torch::NoGradGuard guard;
  auto client = clients_->evaluation_part(client_weights_);
  auto& server = server_.module;
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
  for (const auto& p : clients_->evaluation_part(client_weights_)->parameters()) out.push_back(p.detach().clone());
  for (const auto& p : server_.module->parameters()) out.push_back(p.detach().clone());
  return out;
}

std::string Trainer::save_state() {
  torch::serialize::OutputArchive archive;
  clients_->save(archive);
  torch::serialize::OutputArchive server, server_opt;
  server_.module->save(server);
  server_.optimizer->save(server_opt);
  archive.write("server", server);
  archive.write("server_opt", server_opt);
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
  torch::serialize::InputArchive server, server_opt;
  archive.read("server", server);
  archive.read("server_opt", server_opt);
  server_.module->load(server);
  server_.optimizer->load(server_opt);
}

}  // namespace psl
