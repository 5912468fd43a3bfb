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
//
// shares = "uniform" keeps the gates and the slow clients' paced shares but draws the
// rest of the batch like UGS, uniformly without replacement from the fast clients' data
// (with delta = 0 it is UGS). shares = "dirichlet" is the paper's draw.
//
// The draw and the rounding run on a tree over the clients (dirichlet_tree.hpp), at
// O(B log K) per step for c near 1 rather than a gamma variate for every client.
//
// With availability, R and R_k are the online clients' (an offline client's leaf holds
// nothing until it is back).
//
// With label histograms granted (`sampler.label_aware = true`) and balance_labels on,
// the drawn counts of the step's fast clients are then shifted toward the label mix of
// the data still left (label_balance.hpp): the gated slow clients' heavy shares tilt the label mix
// of the steps they join, and the fast clients offset it.
#include <psl/api/sampler.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "dirichlet_tree.hpp"
#include "label_balance.hpp"
#include "online_clients.hpp"
#include "weighted_pool.hpp"

namespace {

using psl::samplers::DirichletTree;

// The tree's channels per client: R_k of a fast (ungated) client, R_k / g_k and R_k of a
// slow (gated) one; in defer mode R_k * exp(-delta z_k) only.
enum Channel { kFastRemaining = 0, kSlowPaced = 1, kSlowRemaining = 2, kDeferWeighted = 0 };

class LatentDirichlet : public psl::Sampler {
 public:
  LatentDirichlet(std::int64_t batch_size, double concentration, double delay_skew, bool gate, bool uniform,
                  bool balance_labels)
      : batch_size_(batch_size),
        c_(concentration),
        delta_(delay_skew),
        gate_(gate),
        uniform_(uniform),
        balance_labels_(balance_labels) {}

  void begin_epoch(const psl::ClientState& clients, psl::Rng&) override {
    if (balance_labels_) balance_.begin_epoch(clients);
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
    for (std::size_t k = 0; k < latency.size(); ++k) {
      const double z = sd > 0 ? (latency[k] - mean) / sd : 0.0;
      weight_[k] = std::exp(-delta_ * (gate_ ? std::max(z, 0.0) : z));  // g_k, or the defer weight
    }

    // Leaves: in gate mode the fast clients, then the slow ones by falling g_k, so that
    // the clients whose gate is open in a step are a prefix of the leaves.
    client_of_leaf_.resize(std::size_t(K));
    std::iota(client_of_leaf_.begin(), client_of_leaf_.end(), 0);
    if (gate_)
      std::stable_sort(client_of_leaf_.begin(), client_of_leaf_.end(), [this](std::int64_t a, std::int64_t b) {
        return weight_[std::size_t(a)] > weight_[std::size_t(b)];
      });
    leaf_of_client_.resize(std::size_t(K));
    fast_leaves_ = gate_ ? 0 : K;
    gate_of_slow_leaf_.clear();
    for (std::int64_t leaf = 0; leaf < K; ++leaf) {
      const std::int64_t k = client_of_leaf_[std::size_t(leaf)];
      leaf_of_client_[std::size_t(k)] = leaf;
      if (!gate_) continue;
      if (weight_[std::size_t(k)] == 1.0) {
        fast_leaves_ = leaf + 1;
      } else {
        gate_of_slow_leaf_.push_back(weight_[std::size_t(k)]);
      }
    }
    remaining_.assign(std::size_t(K), 0);
    fast_pool_ = psl::samplers::WeightedPool(K);
    online_.reset(K);
    online_total_ = 0;
    tree_ = DirichletTree(K);
    for (std::int64_t k = 0; k < K; ++k) set_remaining(k, clients.remaining(k));
  }

  std::vector<psl::Take> next_step(const psl::ClientState& clients, psl::Rng& rng) override {
    const std::int64_t K = clients.num_clients();
    online_.update(clients, [this](std::int64_t k, bool online) {
      online_total_ += online ? remaining_[std::size_t(k)] : -remaining_[std::size_t(k)];
      write_leaf(k);
    });
    const double R = double(online_total_);
    const std::int64_t target = std::min(batch_size_, online_total_);
    const double Z = R > double(batch_size_) ? double(batch_size_) * (R - 1) / (R - double(batch_size_)) - 1.0 : 1e6;
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    if (uniform_) return finish(uniform_step(R, target, u, rng), clients);

    // alpha_k = c Z q_k / sum q, written as coefficients of the channels.
    DirichletTree::Channels coef{};
    std::int64_t open_end = K;
    if (gate_) {
      // Gated: an open slow client gets q_k = R_k / (R g_k), the fast ones share the rest
      // in proportion to R_k.
      const auto first_closed = std::upper_bound(gate_of_slow_leaf_.begin(), gate_of_slow_leaf_.end(), u,
                                                 [](double x, double g) { return x >= g; });
      const auto open_slow = first_closed - gate_of_slow_leaf_.begin();
      open_end = fast_leaves_ + open_slow;
      const double slow = tree_.prefix(open_end)[kSlowPaced] / R;
      const double fast = tree_.total()[kFastRemaining] / R;
      const double rest = fast > 0 ? std::max(0.0, 1.0 - slow) / fast : 0.0;
      const double q_sum = slow + fast * rest;
      if (q_sum > 0) {
        coef[kFastRemaining] = c_ * Z * rest / (R * q_sum);
        coef[kSlowPaced] = c_ * Z / (R * q_sum);
      } else {  // every gate closed: everyone with data takes part, q_k = R_k / R
        open_end = K;
        coef[kFastRemaining] = coef[kSlowRemaining] = c_ * Z / R;
      }
    } else {
      coef[kDeferWeighted] = c_ * Z / tree_.total()[kDeferWeighted];
    }

    const auto room = [this](std::int64_t leaf) {
      const std::int64_t k = client_of_leaf_[std::size_t(leaf)];
      return online_.online(k) ? remaining_[std::size_t(k)] : std::int64_t{0};
    };
    std::vector<psl::Take> takes;
    for (const auto& c : tree_.draw(coef, open_end, target, room, rng))
      takes.push_back({client_of_leaf_[std::size_t(c.leaf)], c.count});
    return finish(std::move(takes), clients);
  }

  void give_back(const psl::Take& take) override {
    set_remaining(take.client, remaining_[std::size_t(take.client)] + take.count);
  }

 private:
  // Balances labels if asked, sorts by client and takes the counts off R_k.
  std::vector<psl::Take> finish(std::vector<psl::Take> takes, const psl::ClientState& clients) {
    balance_.apply(takes, clients, [this](std::int64_t k) { return leaf_of_client_[std::size_t(k)] < fast_leaves_; });
    std::sort(takes.begin(), takes.end(), [](const psl::Take& a, const psl::Take& b) { return a.client < b.client; });
    for (const auto& t : takes) set_remaining(t.client, remaining_[std::size_t(t.client)] - t.count);
    return takes;
  }

  // shares = "uniform": the open slow clients take their paced share R_k / (R g_k) of
  // the batch (rounded at random, so that it is right on average); the rest is drawn
  // uniformly from the fast clients' remaining data. What the fast clients cannot fill
  // (the end of an epoch) comes uniformly from everyone's.
  std::vector<psl::Take> uniform_step(double R, std::int64_t target, double u, psl::Rng& rng) {
    std::vector<psl::Take> takes;
    std::int64_t taken = 0;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t i = 0; i < gate_of_slow_leaf_.size() && gate_of_slow_leaf_[i] > u; ++i) {
      const std::int64_t k = client_of_leaf_[std::size_t(fast_leaves_) + i];
      const std::int64_t r = online_.online(k) ? remaining_[std::size_t(k)] : 0;
      const double share = double(batch_size_) * double(r) / (R * gate_of_slow_leaf_[i]);
      const auto whole = std::int64_t(share);
      const std::int64_t b = std::min({r, whole + (unit(rng) < share - double(whole) ? 1 : 0), target - taken});
      if (b > 0) takes.push_back({k, b});
      taken += b;
    }
    // The pools get their items back: R_k are lowered for all takes at once, in finish().
    for (const auto& t : fast_pool_.draw_takes(target - taken, rng)) {
      fast_pool_.add(t.client, t.count);
      takes.push_back(t);
      taken += t.count;
    }
    if (taken < target) {
      // The end of an epoch (O(K), once the fast clients are out of data).
      std::vector<std::int64_t> left(remaining_.size(), 0);
      for (std::size_t k = 0; k < remaining_.size(); ++k)
        if (online_.online(std::int64_t(k))) left[k] = remaining_[k];
      for (const auto& t : takes) left[std::size_t(t.client)] -= t.count;
      psl::samplers::WeightedPool everyone(std::int64_t(remaining_.size()));
      for (std::size_t k = 0; k < left.size(); ++k) everyone.add(std::int64_t(k), left[k]);
      for (const auto& t : everyone.draw_takes(target - taken, rng)) {
        const auto same = std::find_if(takes.begin(), takes.end(), [&](const psl::Take& x) { return x.client == t.client; });
        if (same != takes.end()) {
          same->count += t.count;
        } else {
          takes.push_back(t);
        }
      }
    }
    return takes;
  }

  void set_remaining(std::int64_t k, std::int64_t r) {
    if (online_.online(k)) online_total_ += r - remaining_[std::size_t(k)];
    remaining_[std::size_t(k)] = r;
    write_leaf(k);
  }
  void write_leaf(std::int64_t k) {
    const std::int64_t r = online_.online(k) ? remaining_[std::size_t(k)] : 0;
    const std::int64_t leaf = leaf_of_client_[std::size_t(k)];
    if (uniform_ && leaf < fast_leaves_) fast_pool_.add(k, r - fast_pool_.count(k));
    const double w = weight_[std::size_t(k)];
    DirichletTree::Channels ch{};
    if (!gate_) {
      ch[kDeferWeighted] = double(r) * w;
    } else if (leaf < fast_leaves_) {
      ch[kFastRemaining] = double(r);
    } else {
      ch[kSlowPaced] = double(r) / w;
      ch[kSlowRemaining] = double(r);
    }
    tree_.set(leaf, ch);
  }

  std::int64_t batch_size_;
  double c_, delta_;
  bool gate_, uniform_, balance_labels_;
  psl::samplers::WeightedPool fast_pool_;  // shares = "uniform": the fast clients' remaining data
  psl::samplers::LabelBalance balance_;  // empty unless histograms are granted and balance_labels is on
  std::vector<double> weight_;           // g_k (gate) or exp(-delta z_k) (defer), per client
  std::vector<std::int64_t> remaining_;  // R_k, kept in step with the host
  psl::samplers::OnlineClients online_;
  std::int64_t online_total_ = 0;        // R over the online clients
  std::vector<std::int64_t> client_of_leaf_, leaf_of_client_;
  std::int64_t fast_leaves_ = 0;           // gate mode: leaves [0, fast_leaves_) have g_k = 1
  std::vector<double> gate_of_slow_leaf_;  // g_k of the slow leaves, falling
  DirichletTree tree_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler(
      {"lds", "latent Dirichlet sampling: Dirichlet batch shares, slow clients deferred or gated",
       {psl::param_float("concentration", 1.0, "c > 0: 1 matches UGS's variance; larger: closer to proportional; "
                                               "smaller: batches from fewer clients")
            .at_least(1e-6),
        psl::param_float("delay_skew", 0.5, "delta >= 0: how strongly slow clients are deferred or gated").at_least(0),
        psl::param_string("pacing", "gate", "gate: slow clients in few steps spread over the epoch; defer: the "
                                             "paper's exp(-delta z) weights (slow data used later)")
            .one_of({"gate", "defer"}),
        psl::param_string("shares", "dirichlet", "dirichlet: the paper's draw; uniform (gate pacing only): the "
                                                 "open slow clients' paced shares, the rest drawn as UGS draws")
            .one_of({"dirichlet", "uniform"}),
        psl::param_bool("balance_labels", true, "with sampler.label_aware = true: shift the fast clients' counts "
                                                 "in each step toward the label mix of the data left")}},
      [](const psl::Context& ctx) {
        if (ctx.params.get_string("shares") == "uniform" && ctx.params.get_string("pacing") != "gate")
          throw std::invalid_argument("shares = \"uniform\" needs pacing = \"gate\" (defer has no gates to pace)");
        return std::make_unique<LatentDirichlet>(ctx.batch_size, ctx.params.get_float("concentration"),
                                                 ctx.params.get_float("delay_skew"),
                                                 ctx.params.get_string("pacing") == "gate",
                                                 ctx.params.get_string("shares") == "uniform",
                                                 ctx.params.get_bool("balance_labels"));
      });
}
