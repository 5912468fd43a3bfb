// The paper's baselines: every client that still has data contributes a fixed number of
// samples per step, so depleted clients drop out and the effective batch shrinks.
// FLS and FPLS differ only in that fixed number (fls.cpp, fpls.cpp). With availability,
// only the clients online now contribute.
#pragma once

#include <psl/api/sampler.hpp>

#include <algorithm>
#include <vector>

namespace psl::samplers {

class FixedLocalSampler : public Sampler {
 public:
  void begin_epoch(const ClientState& clients, Rng&) override {
    active_.clear();
    per_step_.assign(clients.num_clients(), 0);
    for (std::int64_t k = 0; k < clients.num_clients(); ++k) {
      per_step_[k] = per_step(clients, k);
      if (clients.remaining(k) > 0) active_.push_back(k);
    }
  }

  // Cost grows with the clients still holding data, not with all clients.
  std::vector<Take> next_step(const ClientState& clients, Rng&) override {
    std::vector<Take> takes;
    std::size_t kept = 0;
    for (std::int64_t k : active_) {
      const std::int64_t r = clients.remaining(k);
      if (r == 0) continue;
      active_[kept++] = k;
      if (clients.online(k)) takes.push_back({k, std::min(per_step_[k], r)});
    }
    active_.resize(kept);
    return takes;
  }

  void give_back(const Take& take) override {
    if (std::find(active_.begin(), active_.end(), take.client) == active_.end()) active_.push_back(take.client);
  }

 protected:
  // b_k for client k, at least 1.
  virtual std::int64_t per_step(const ClientState& clients, std::int64_t k) const = 0;

 private:
  std::vector<std::int64_t> active_;
  std::vector<std::int64_t> per_step_;
};

}  // namespace psl::samplers
