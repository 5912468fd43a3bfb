// A multiset of client ids with counts (client k present R_k times), from which single
// items are drawn uniformly without replacement in O(log K) (a Fenwick tree over counts).
#pragma once

#include <psl/api/sampler.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "psl/random.hpp"

namespace psl::samplers {

class WeightedPool {
 public:
  explicit WeightedPool(std::int64_t size = 0) : tree_(size + 1, 0), counts_(size, 0) {}

  std::int64_t size() const { return static_cast<std::int64_t>(counts_.size()); }
  std::int64_t total() const { return total_; }
  std::int64_t count(std::int64_t k) const { return counts_[k]; }

  void add(std::int64_t k, std::int64_t delta) {
    counts_[k] += delta;
    total_ += delta;
    for (std::int64_t i = k + 1; i < static_cast<std::int64_t>(tree_.size()); i += i & -i) tree_[i] += delta;
  }

  // Removes one item chosen uniformly among all total() items; returns its client.
  std::int64_t draw(Rng& rng) {
    std::int64_t target = std::uniform_int_distribution<std::int64_t>(0, total_ - 1)(rng);
    std::int64_t pos = 0;
    for (std::int64_t step = highest_power_of_two(); step > 0; step >>= 1) {
      const std::int64_t next = pos + step;
      if (next < static_cast<std::int64_t>(tree_.size()) && tree_[next] <= target) {
        pos = next;
        target -= tree_[next];
      }
    }
    add(pos, -1);  // pos is the 0-based client whose prefix range holds target
    return pos;
  }

  // Draws `n` items (fewer if the pool runs out) and returns them as takes, one per
  // client, sorted by client. The items leave the pool.
  std::vector<Take> draw_takes(std::int64_t n, Rng& rng) {
    std::vector<std::int64_t> drawn;
    for (std::int64_t i = 0; i < n && total_ > 0; ++i) drawn.push_back(draw(rng));
    std::sort(drawn.begin(), drawn.end());
    std::vector<Take> takes;
    for (std::int64_t client : drawn) {
      if (takes.empty() || takes.back().client != client) takes.push_back({client, 0});
      ++takes.back().count;
    }
    return takes;
  }

 private:
  std::int64_t highest_power_of_two() const {
    std::int64_t p = 1;
    while (p * 2 < static_cast<std::int64_t>(tree_.size())) p *= 2;
    return p;
  }
  std::vector<std::int64_t> tree_;
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
};

}  // namespace psl::samplers
