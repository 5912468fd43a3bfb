// Batch counts from Dirichlet shares over many clients, without visiting every client.
//
// The clients are the leaves of a binary tree whose nodes hold sums of per-leaf
// "channels" (a few non-negative numbers per client, e.g. R_k). A step gives each open
// leaf alpha_k = coef . channels_k, draws pi ~ Dirichlet(alpha) and turns target * pi
// into counts by largest-remainder rounding, capped at each leaf's room.
//
// Why it is sublinear: by the aggregation property of the Dirichlet law, the share of a
// subtree is Beta(alpha_left, alpha_right)-split between its halves, so pi can be drawn
// top-down and only where it matters. A subtree whose whole value target * share is
// below a threshold tau can hold no count of one or more, and none of its remainders
// reaches tau; it is opened only when fewer than the needed seats have remainders >= tau.
// The counts are then exactly those of drawing every pi_k and rounding them all. The cost
// is O(B log K) per step when the shares are uneven (c near 1); as c grows the shares
// approach the proportional ones, all nearly equal, and rounding them needs every leaf.
//
// Each node's split draws from its own stream (the step's key and the node), so pi does
// not depend on the order in which nodes are opened: opening all of them (`exhaustive`,
// the O(K) reference a test compares against) gives the same counts.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "psl/random.hpp"

namespace psl::samplers {

class DirichletTree {
 public:
  static constexpr int kChannels = 3;
  using Channels = std::array<double, kChannels>;
  struct Count {
    std::int64_t leaf = 0, count = 0;
  };

  explicit DirichletTree(std::int64_t leaves = 0, bool exhaustive = false) : n_(leaves), exhaustive_(exhaustive) {
    while (leaf0_ < leaves) leaf0_ *= 2;
    sums_.assign(std::size_t(2 * leaf0_), Channels{});
  }

  const Channels& total() const { return sums_[1]; }

  void set(std::int64_t leaf, const Channels& value) {
    std::size_t node = std::size_t(leaf0_ + leaf);
    sums_[node] = value;
    // Sums are recomputed, not updated by differences, so they carry no drift.
    for (node /= 2; node >= 1; node /= 2)
      for (int c = 0; c < kChannels; ++c) sums_[node][c] = sums_[2 * node][c] + sums_[2 * node + 1][c];
  }

  // Channel sums over leaves [0, end).
  Channels prefix(std::int64_t end) const {
    Channels out{};
    add_restricted(1, end, out);
    return out;
  }

  // Counts summing to `target` (or less, if no leaf has room for the rest), for leaves
  // [0, open_end) with alpha = coef . channels; room(leaf) caps each count. What the caps
  // cut off goes to leaves with room in proportion to pi (four passes), then in proportion
  // to room. Sorted by leaf.
  template <class Room>
  std::vector<Count> draw(const Channels& coef, std::int64_t open_end, std::int64_t target, Room room, Rng& rng) {
    coef_ = coef;
    open_end_ = open_end;
    key_ = rng();
    pending_.clear();
    explored_.clear();
    if (alpha(1) > 0) (leaf0_ == 1 ? explored_ : pending_).push_back({1, 1.0, 0});
    std::int64_t left = target;
    for (int pass = 0; left > 0 && pass < 4; ++pass) {
      double w_sum = 0;  // the share of pi with room left
      for (const auto& p : pending_) w_sum += p.share;
      for (const auto& e : explored_)
        if (room(e.node - leaf0_) > e.count) w_sum += e.share;
      if (w_sum <= 0) break;
      left -= round_pass(double(left) / w_sum, left, room);
    }
    std::vector<Count> out;
    for (const auto& e : explored_)
      if (e.count > 0) out.push_back({e.node - leaf0_, e.count});
    if (left > 0) give_by_room(out, left, room);
    std::sort(out.begin(), out.end(), [](const Count& a, const Count& b) { return a.leaf < b.leaf; });
    return out;
  }

 private:
  struct Node {
    std::int64_t node;   // heap index: root 1, children 2i and 2i+1, leaves from leaf0_
    double share;        // of pi
    std::int64_t count;  // given so far (leaves)
  };

  // Node `node` covers leaves [lo, lo + size).
  void bounds(std::int64_t node, std::int64_t& lo, std::int64_t& size) const {
    const std::int64_t level_start = std::int64_t{1} << (63 - __builtin_clzll(std::uint64_t(node)));
    size = leaf0_ / level_start;
    lo = (node - level_start) * size;
  }

  void add_restricted(std::int64_t node, std::int64_t end, Channels& out) const {
    std::int64_t lo, size;
    bounds(node, lo, size);
    if (lo >= end) return;
    if (lo + size <= end) {
      for (int c = 0; c < kChannels; ++c) out[c] += sums_[std::size_t(node)][c];
      return;
    }
    add_restricted(2 * node, end, out);
    add_restricted(2 * node + 1, end, out);
  }

  double alpha(std::int64_t node) const {
    Channels s{};
    add_restricted(node, open_end_, s);
    double a = 0;
    for (int c = 0; c < kChannels; ++c) a += coef_[c] * s[c];
    return a;
  }

  // A node's own random stream (splitmix64 over a counter).
  struct NodeStream {
    using result_type = std::uint64_t;
    std::uint64_t state;
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~result_type{0}; }
    result_type operator()() { return mix64(state++); }
  };

  static double uniform_open_closed(NodeStream& rng) {  // (0, 1]
    return 1.0 - std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  }

  // log of a Gamma(a) variate, exact for tiny a where the variate itself underflows:
  // Gamma(a) = Gamma(a + 1) * U^(1/a).
  static double log_gamma_variate(double a, NodeStream& rng) {
    if (a >= 1) return std::log(std::gamma_distribution<double>(a, 1.0)(rng));
    const double g = std::gamma_distribution<double>(a + 1.0, 1.0)(rng);
    return std::log(g) + std::log(uniform_open_closed(rng)) / a;
  }

  // log(1 - B) - log(B) for B ~ Beta(a, b). Deep in the tree the alphas are small, and
  // there Johnk's method (X = U^(1/a), Y = V^(1/b), kept when X + Y <= 1, B = X / (X + Y))
  // needs two uniforms a try and accepts with probability Gamma(a+1) Gamma(b+1) /
  // Gamma(a+b+1), at least 0.78 for a + b <= 1; above that, two gamma variates.
  static double log_odds_of_beta(double a, double b, NodeStream& rng) {
    if (a + b > 1) return log_gamma_variate(b, rng) - log_gamma_variate(a, rng);
    for (;;) {
      const double log_x = std::log(uniform_open_closed(rng)) / a, log_y = std::log(uniform_open_closed(rng)) / b;
      // Both below log(1/2): X + Y < 1 without computing them (they may underflow).
      if (std::max(log_x, log_y) < -0.7 || std::exp(log_x) + std::exp(log_y) <= 1.0) return log_y - log_x;
    }
  }

  // Splits a pending node's share between its halves; halves of zero alpha get nothing.
  void expand(const Node& n) {
    const double a_left = alpha(2 * n.node), a_right = alpha(2 * n.node + 1);
    double left_share = n.share, right_share = 0;
    if (a_left <= 0) {
      left_share = 0, right_share = n.share;
    } else if (a_right > 0) {
      NodeStream stream{mix64(key_ ^ mix64(std::uint64_t(n.node)))};
      const double d = log_odds_of_beta(a_left, a_right, stream);
      left_share = n.share / (1.0 + std::exp(d));
      right_share = n.share / (1.0 + std::exp(-d));
    }
    for (const auto& [child, share] : {std::pair{2 * n.node, left_share}, std::pair{2 * n.node + 1, right_share}}) {
      if (share <= 0) continue;
      // Opening the child reads its children's sums: a cache miss in a large tree, so
      // fetch them now, while other nodes are opened.
      if (child < leaf0_) __builtin_prefetch(&sums_[std::size_t(2 * child)]);
      (child >= leaf0_ ? explored_ : pending_).push_back({child, share, 0});
    }
  }

  // Opens every pending node whose value (scale * share) is at least tau, in one sweep:
  // an opened node's children join the end of the list and are looked at in turn. (Each
  // split draws from its node's own stream, so the order of opening changes nothing.)
  // Returns the largest value left pending (0: none).
  double open_down_to(double tau, double scale) {
    double largest_left = 0;
    for (std::size_t i = 0; i < pending_.size();) {
      if (scale * pending_[i].share < tau) {
        largest_left = std::max(largest_left, scale * pending_[i].share);
        ++i;
        continue;
      }
      const Node n = pending_[i];
      pending_[i] = pending_.back();
      pending_.pop_back();
      expand(n);
    }
    return largest_left;
  }

  // One largest-remainder pass of `left` seats over the leaves with room, in proportion
  // to pi (value = scale * share). Returns the seats given after the caps.
  template <class Room>
  std::int64_t round_pass(double scale, std::int64_t left, Room& room) {
    std::vector<std::pair<double, std::size_t>> rem;  // (remainder, explored index)
    std::vector<std::int64_t> add;
    for (double tau = exhaustive_ ? 0.0 : 1.0;;) {
      const double largest_pending = open_down_to(tau, scale);
      add.assign(explored_.size(), 0);
      rem.clear();
      std::int64_t given = 0;
      for (std::size_t i = 0; i < explored_.size(); ++i) {
        if (room(explored_[i].node - leaf0_) <= explored_[i].count) continue;
        const double exact = scale * explored_[i].share;
        add[i] = std::int64_t(std::floor(exact));
        given += add[i];
        rem.push_back({exact - double(add[i]), i});
      }
      const std::int64_t seats = std::max<std::int64_t>(0, left - given);
      const auto sure = std::count_if(rem.begin(), rem.end(), [tau](const auto& r) { return r.first >= tau; });
      if (std::int64_t(sure) >= seats || largest_pending <= 0) {
        // Every unopened leaf's remainder is below tau, so these seats are the true top.
        const auto by_remainder = [this](const auto& a, const auto& b) {
          return a.first > b.first || (a.first == b.first && explored_[a.second].node < explored_[b.second].node);
        };
        const std::size_t k = std::min<std::size_t>(rem.size(), std::size_t(seats));
        std::partial_sort(rem.begin(), rem.begin() + std::ptrdiff_t(k), rem.end(), by_remainder);
        for (std::size_t j = 0; j < k; ++j) ++add[rem[j].second];
        std::int64_t placed = 0;
        for (std::size_t i = 0; i < explored_.size(); ++i) {
          const std::int64_t take = std::min(add[i], room(explored_[i].node - leaf0_) - explored_[i].count);
          if (take <= 0) continue;
          explored_[i].count += take;
          placed += take;
        }
        return placed;
      }
      // Halves: a smaller step opens fewer nodes below the threshold the seats need,
      // at the price of more scans of the explored leaves (eighths took 30.6-32 s, halves
      // 24.6-25.4 s for the 100,000-client epoch of docs/benchmarks.md).
      tau = std::min(tau / 2, largest_pending);
    }
  }

  // Last resort, when pi has no room left: largest remainder in proportion to room, one
  // pass over every leaf (rare: only when the caps cut off everything pi favours).
  template <class Room>
  void give_by_room(std::vector<Count>& out, std::int64_t& left, Room& room) const {
    std::vector<std::int64_t> b(std::size_t(n_), 0), room_left(std::size_t(n_), 0);
    for (const auto& c : out) b[std::size_t(c.leaf)] = c.count;
    double total_room = 0;
    for (std::int64_t k = 0; k < n_; ++k) {
      room_left[std::size_t(k)] = std::max<std::int64_t>(0, room(k) - b[std::size_t(k)]);
      total_room += double(room_left[std::size_t(k)]);
    }
    const auto seats = std::min<std::int64_t>(left, std::int64_t(total_room));
    std::int64_t given = 0;
    std::vector<std::pair<double, std::int64_t>> rem;
    for (std::int64_t k = 0; k < n_ && seats > 0; ++k) {
      if (room_left[std::size_t(k)] == 0) continue;
      const double exact = double(seats) * double(room_left[std::size_t(k)]) / total_room;
      const auto whole = std::int64_t(std::floor(exact));
      b[std::size_t(k)] += whole;
      given += whole;
      rem.push_back({exact - double(whole), k});
    }
    std::sort(rem.begin(), rem.end(), [](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && x.second < y.second);
    });
    for (std::size_t i = 0; i < rem.size() && given < seats; ++i, ++given) ++b[std::size_t(rem[i].second)];
    left -= given;
    out.clear();
    for (std::int64_t k = 0; k < n_; ++k)
      if (b[std::size_t(k)] > 0) out.push_back({k, b[std::size_t(k)]});
  }

  std::int64_t n_ = 0, leaf0_ = 1;
  bool exhaustive_ = false;
  std::uint64_t key_ = 0;
  std::vector<Channels> sums_;
  Channels coef_{};
  std::int64_t open_end_ = 0;
  std::vector<Node> pending_, explored_;
};

}  // namespace psl::samplers
