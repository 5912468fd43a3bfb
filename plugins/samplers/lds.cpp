// Latent Dirichlet sampling (LDS). Each step draws client shares pi ~ Dirichlet(alpha),
//   alpha_k = c * Z * q_k,   q_k proportional to (R_k / R) * w_k,
//   Z = B (R - 1) / (R - B) - 1   (so that c = 1 gives shares with the variance of UGS),
// and turns B * pi into counts by largest remainder, capped at R_k.
//
// w_k handles slow clients (z_k: standardized expected latency, delta = delay_skew):
//   pacing = "defer": w_k = exp(-delta z_k), the paper's form: slow clients get smaller
//     shares, so their data is used later; the epoch can end on steps holding only
//     their data (a non-IID cliff just before evaluation).
//   pacing = "gate" (default): slow clients keep their expected share, but take part only
//     in a fraction g_k = exp(-delta max(z_k, 0)) of the steps (with share R_k / (R g_k)
//     when they do). One uniform draw per step opens the gates, so the slow clients
//     share the same few heavy steps, spread evenly through the epoch.
#include <psl/api/sampler.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace {

class LatentDirichlet : public psl::Sampler {
 public:
  LatentDirichlet(std::int64_t batch_size, double concentration, double delay_skew, bool gate)
      : batch_size_(batch_size), c_(concentration), delta_(delay_skew), gate_(gate) {}

  void begin_epoch(const psl::ClientState& clients, psl::Rng&) override {
    // z_k from the expected latency of a typical contribution, B / K samples.
    const std::int64_t K = clients.num_clients();
    const std::int64_t typical = std::max<std::int64_t>(1, std::llround(double(batch_size_) / double(K)));
    std::vector<double> latency(static_cast<std::size_t>(K));
    for (std::int64_t k = 0; k < K; ++k) latency[std::size_t(k)] = clients.expected_latency_s(k, typical);
    const double mean = std::accumulate(latency.begin(), latency.end(), 0.0) / double(K);
    double var = 0;
    for (double l : latency) var += (l - mean) * (l - mean);
    const double sd = std::sqrt(var / double(K));
    weight_.assign(std::size_t(K), 1.0);
    gate_open_.assign(std::size_t(K), 1.0);
    for (std::size_t k = 0; k < latency.size(); ++k) {
      const double z = sd > 0 ? (latency[k] - mean) / sd : 0.0;
      if (gate_) {
        gate_open_[k] = std::exp(-delta_ * std::max(z, 0.0));
      } else {
        weight_[k] = std::exp(-delta_ * z);
      }
    }
  }

  std::vector<psl::Take> next_step(const psl::ClientState& clients, psl::Rng& rng) override {
    const std::int64_t K = clients.num_clients();
    const std::int64_t R = clients.total_remaining();
    const std::int64_t target = std::min(batch_size_, R);
    const double Z = R > batch_size_ ? double(batch_size_) * double(R - 1) / double(R - batch_size_) - 1.0 : 1e6;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);

    // q_k over the clients with data (and, gated, whose gate is open this step).
    std::vector<double> q(std::size_t(K), 0.0);
    double q_sum = gate_ ? gated_shares(clients, u, q) : 0.0;
    if (q_sum == 0) {  // defer mode, or every gate closed: everyone with data takes part
      for (std::int64_t k = 0; k < K; ++k) {
        q[std::size_t(k)] = double(clients.remaining(k)) / double(R) * (gate_ ? 1.0 : weight_[std::size_t(k)]);
        q_sum += q[std::size_t(k)];
      }
    }

    // pi ~ Dirichlet(c Z q / sum q) via normalized gamma draws.
    std::vector<double> pi(std::size_t(K), 0.0);
    double pi_sum = 0;
    for (std::int64_t k = 0; k < K; ++k) {
      if (q[std::size_t(k)] == 0) continue;
      const double alpha = c_ * Z * q[std::size_t(k)] / q_sum;
      pi[std::size_t(k)] = std::gamma_distribution<double>(alpha, 1.0)(rng);
      pi_sum += pi[std::size_t(k)];
    }
    if (pi_sum == 0) pi = q, pi_sum = q_sum;  // every draw underflowed: fall back to the mean
    for (auto& p : pi) p /= pi_sum;

    std::vector<std::int64_t> b = round_with_caps(clients, pi, target);
    std::vector<psl::Take> takes;
    for (std::int64_t k = 0; k < K; ++k)
      if (b[std::size_t(k)] > 0) takes.push_back({k, b[std::size_t(k)]});
    return takes;
  }

 private:
  // Gate mode: a slow client whose gate is open gets R_k / (R g_k) of the batch, so that
  // over the steps (open in a fraction g_k of them) it keeps pace with the epoch and no
  // slow data is left for its end; the clients without a gate share the rest in
  // proportion to R_k. Returns sum q (0 if no client with data is open).
  double gated_shares(const psl::ClientState& clients, double u, std::vector<double>& q) const {
    const double R = double(clients.total_remaining());
    double slow = 0, fast = 0;
    for (std::size_t k = 0; k < q.size(); ++k) {
      const auto r = double(clients.remaining(std::int64_t(k)));
      if (r == 0 || u >= gate_open_[k]) continue;
      if (gate_open_[k] < 1) {
        q[k] = r / (R * gate_open_[k]);
        slow += q[k];
      } else {
        fast += r / R;
      }
    }
    const double rest = fast > 0 ? std::max(0.0, 1.0 - slow) / fast : 0.0;
    for (std::size_t k = 0; k < q.size(); ++k)
      if (gate_open_[k] == 1 && clients.remaining(std::int64_t(k)) > 0) q[k] = double(clients.remaining(std::int64_t(k))) / R * rest;
    double sum = 0;
    for (double v : q) sum += v;
    return sum;
  }

  // Largest-remainder rounding of target * pi, capped at R_k; what the caps cut off goes
  // to clients with room, in proportion to pi (then to R_k, if pi has no room left).
  static std::vector<std::int64_t> round_with_caps(const psl::ClientState& clients, const std::vector<double>& pi,
                                                   std::int64_t target) {
    const std::size_t K = pi.size();
    std::vector<std::int64_t> b(K, 0);
    std::int64_t left = target;
    for (int pass = 0; left > 0; ++pass) {
      std::vector<double> w(K, 0.0);
      double w_sum = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const std::int64_t room = clients.remaining(std::int64_t(k)) - b[k];
        if (room <= 0) continue;
        w[k] = pass < 4 ? pi[k] : double(room);
        w_sum += w[k];
      }
      if (w_sum == 0) continue;  // no pi-weighted room: the next passes use R_k
      std::vector<std::pair<double, std::size_t>> rem;
      std::int64_t given = 0;
      std::vector<std::int64_t> add(K, 0);
      for (std::size_t k = 0; k < K; ++k) {
        if (w[k] == 0) continue;
        const double exact = double(left) * w[k] / w_sum;
        add[k] = std::int64_t(std::floor(exact));
        given += add[k];
        rem.push_back({exact - double(add[k]), k});
      }
      std::sort(rem.begin(), rem.end(), [](auto& a, auto& c) { return a.first > c.first || (a.first == c.first && a.second < c.second); });
      for (std::size_t i = 0; given < left && i < rem.size(); ++i, ++given) ++add[rem[i].second];
      for (std::size_t k = 0; k < K; ++k) {
        const std::int64_t room = clients.remaining(std::int64_t(k)) - b[k];
        const std::int64_t take = std::min(add[k], room);
        b[k] += take;
        left -= take;
      }
    }
    return b;
  }

  std::int64_t batch_size_;
  double c_, delta_;
  bool gate_;
  std::vector<double> weight_, gate_open_;
};

}  // namespace

PSL_PLUGIN("lds") {
  registrar.add_sampler(
      {"lds", "latent Dirichlet sampling: Dirichlet batch shares, slow clients deferred or gated",
       {psl::param_float("concentration", 1.0, "c > 0: 1 matches UGS's variance; larger: closer to proportional; "
                                               "smaller: batches from fewer clients")
            .at_least(1e-6),
        psl::param_float("delay_skew", 0.5, "delta >= 0: how strongly slow clients are deferred or gated").at_least(0),
        psl::param_string("pacing", "gate", "gate: slow clients in few steps spread over the epoch; defer: the "
                                             "paper's exp(-delta z) weights (slow data used later)")
            .one_of({"gate", "defer"})}},
      [](const psl::Context& ctx) {
        return std::make_unique<LatentDirichlet>(ctx.batch_size, ctx.params.get_float("concentration"),
                                                 ctx.params.get_float("delay_skew"),
                                                 ctx.params.get_string("pacing") == "gate");
      });
}
