// Availability for samplers that keep their own view of R_k: which clients changed between
// online and offline since the last step. O(K) per step, and only while some client is
// offline (ClientState::all_online() false).
#pragma once

#include <psl/api/sampler.hpp>

#include <vector>

namespace psl::samplers {

class OnlineClients {
 public:
  void reset(std::int64_t clients) { online_.assign(std::size_t(clients), 1); }
  bool online(std::int64_t k) const { return online_[std::size_t(k)] != 0; }

  // Calls changed(k, now_online) for every client whose state differs from the last call's.
  template <class Changed>
  void update(const ClientState& clients, Changed&& changed) {
    if (clients.all_online() && all_online_) return;
    all_online_ = clients.all_online();
    for (std::int64_t k = 0; k < clients.num_clients(); ++k) {
      const char now = clients.online(k) ? 1 : 0;
      if (now == online_[std::size_t(k)]) continue;
      online_[std::size_t(k)] = now;
      changed(k, now != 0);
    }
  }

 private:
  std::vector<char> online_;
  bool all_online_ = true;
};

}  // namespace psl::samplers
