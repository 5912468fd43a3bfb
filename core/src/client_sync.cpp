#include "client_sync.hpp"

#include <torch/nn/functional/loss.h>

#include <cmath>
#include <numeric>

namespace psl {

ClientSyncStrategy::~ClientSyncStrategy() = default;
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

namespace {

// The split step every strategy shares: client forward passes, one server step, the
// gradients back through the clients (who update as the layout says).
double split_step(const PlannedStep& step, ClientParts& clients, ServerPart& server) {
  const ClientOutputs out = clients.forward(step);
  if (out.empty()) return NAN;
  const auto r = server.train(out);
  clients.backward(step, r.gradients);
  return r.loss;
}

// The paper's setting: one client part; its update is the sum of the clients' gradients.
class SharedSync : public ClientSyncStrategy {
 public:
  PartLayout layout() const override { return PartLayout::Shared; }
  double step(const PlannedStep& s, ClientParts& c, ServerPart& sv) override { return split_step(s, c, sv); }
};

// Each client trains its own part; the parts never meet (evaluation uses their average).
class LocalSync : public ClientSyncStrategy {
 public:
  PartLayout layout() const override { return PartLayout::PerClient; }
  double step(const PlannedStep& s, ClientParts& c, ServerPart& sv) override { return split_step(s, c, sv); }
};

// Own parts, averaged (weighted by shard size) every `every` steps: FedAvg on the client side.
class FedAvgSync : public ClientSyncStrategy {
 public:
  FedAvgSync(std::int64_t every, std::vector<std::int64_t> sizes) : every_(every) {
    const double total = double(std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}));
    for (auto n : sizes) weights_.push_back(double(n) / total);
  }
  PartLayout layout() const override { return PartLayout::PerClient; }
  double step(const PlannedStep& s, ClientParts& c, ServerPart& sv) override {
    const double loss = split_step(s, c, sv);
    if ((s.step + 1) % every_ == 0) c.average(weights_);
    return loss;
  }

 private:
  std::int64_t every_;
  std::vector<double> weights_;
};

}  // namespace

std::unique_ptr<ClientSyncStrategy> make_client_sync(ClientSync sync, std::int64_t every,
                                                     std::vector<std::int64_t> sizes) {
  switch (sync) {
    case ClientSync::Local: return std::make_unique<LocalSync>();
    case ClientSync::FedAvg: return std::make_unique<FedAvgSync>(every, std::move(sizes));
    case ClientSync::Shared: break;
  }
  return std::make_unique<SharedSync>();
}

}  // namespace psl
