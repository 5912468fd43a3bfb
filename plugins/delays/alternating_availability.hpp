// Synthetic availability for the slowdown models: each client alternates online and
// offline periods of exponential length (means mean_online_s and mean_offline_s), starting
// in the stationary state (online with probability on / (on + off)); a fraction of the
// clients is never offline. Periods are drawn per client, as far as the clock needs
// them, from the client's own seeded stream: the same seed gives the same windows
// whatever the order of the questions.
#pragma once

#include <psl/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace psl::delays {

class AlternatingAvailability {
 public:
  AlternatingAvailability(double mean_online_s, double mean_offline_s, double always_online_fraction)
      : on_(mean_online_s), off_(mean_offline_s), always_(always_online_fraction) {}

  bool enabled() const { return off_ > 0; }

  void setup(std::int64_t clients, Rng& rng) {
    if (!enabled()) return;
    clients_.assign(std::size_t(clients), {});
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (auto& c : clients_) {
      c.stream = Rng(rng());
      c.always = u(rng) < always_;
      c.starts_online = u(c.stream) < on_ / (on_ + off_);
    }
  }

  double next_online_s(std::int64_t client, double t) const {
    if (!enabled()) return t;
    Client& c = clients_[std::size_t(client)];
    if (c.always) return t;
    // Extend the client's switch times past t; switch i ends period i.
    while (c.switches.empty() || c.switches.back() <= t) {
      const bool online = (c.switches.size() % 2 == 0) == c.starts_online;
      const double last = c.switches.empty() ? 0.0 : c.switches.back();
      c.switches.push_back(last + std::exponential_distribution<double>(1.0 / (online ? on_ : off_))(c.stream));
    }
    const auto period = std::size_t(std::upper_bound(c.switches.begin(), c.switches.end(), t) - c.switches.begin());
    const bool online = (period % 2 == 0) == c.starts_online;
    return online ? t : c.switches[period];
  }

 private:
  struct Client {
    Rng stream;
    bool always = false, starts_online = true;
    std::vector<double> switches;
  };
  double on_, off_, always_;
  mutable std::vector<Client> clients_;  // grown lazily by next_online_s
};

}  // namespace psl::delays
