// Uniform global sampling (UGS): each global batch is a uniform draw without replacement
// from everything not yet used this epoch, cut so that the epoch has exactly ceil(N/B)
// steps whose sizes differ by at most one. The server needs only the counts R_k.
//
// Drawing the batch item by item from the pooled counts gives the same distribution as
// shuffling a pool of N client ids and cutting it into chunks (docs/samplers.md), at O(B log K)
// per step and O(K) memory instead of O(N). With availability, the draw is uniform over
// the online clients' remaining data: an offline client's count leaves the pool until it
// is back, and a step smaller than planned leaves its samples to extra steps.
#include <psl/api/sampler.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <vector>

#include "online_clients.hpp"
#include "weighted_pool.hpp"

namespace {

class UniformGlobalSampler : public psl::Sampler {
 public:
  explicit UniformGlobalSampler(std::int64_t batch_size) : batch_size_(batch_size) {}

  void begin_epoch(const psl::ClientState& clients, psl::Rng&) override {
    pool_ = psl::samplers::WeightedPool(clients.num_clients());
    for (std::int64_t k = 0; k < clients.num_clients(); ++k) pool_.add(k, clients.remaining(k));
    online_.reset(clients.num_clients());
    away_.assign(std::size_t(clients.num_clients()), 0);
    const std::int64_t n = clients.total_samples();
    steps_left_ = (n + batch_size_ - 1) / batch_size_;
  }

  std::vector<psl::Take> next_step(const psl::ClientState& clients, psl::Rng& rng) override {
    online_.update(clients, [this](std::int64_t k, bool online) {
      auto& away = away_[std::size_t(k)];
      if (online) pool_.add(k, away), away = 0;
      else away = pool_.count(k), pool_.add(k, -away);
    });
    const std::int64_t r = clients.total_remaining();
    // Balanced chunk sizes; after deferrals (give_back) the epoch may need extra steps.
    const std::int64_t planned = steps_left_ > 0 ? (r + steps_left_ - 1) / steps_left_ : std::min(r, batch_size_);
    const std::int64_t size = std::min(planned, pool_.total());  // what the online clients hold
    if (steps_left_ > 0) --steps_left_;
    return pool_.draw_takes(size, rng);
  }

  void give_back(const psl::Take& take) override { pool_.add(take.client, take.count); }

 private:
  std::int64_t batch_size_;
  std::int64_t steps_left_ = 0;
  psl::samplers::WeightedPool pool_;  // the online clients' remaining samples
  psl::samplers::OnlineClients online_;
  std::vector<std::int64_t> away_;    // per offline client: its remaining samples
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler({"ugs", "uniform global sampling: each batch a uniform draw from all remaining data", {}},
                        [](const psl::Context& ctx) { return std::make_unique<UniformGlobalSampler>(ctx.batch_size); });
}
