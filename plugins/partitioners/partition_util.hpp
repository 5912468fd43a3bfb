// Helpers shared by the partitioner plugins.
#pragma once

#include <fmt/format.h>
#include <psl/random.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

namespace psl::partitioners {

using Parts = std::vector<std::vector<std::int64_t>>;

// Integer counts summing to n, proportional to the weights (largest remainder).
inline std::vector<std::int64_t> proportional_counts(std::int64_t n, const std::vector<double>& weights) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<std::int64_t> counts(weights.size());
  std::vector<std::pair<double, std::size_t>> remainders;
  std::int64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double exact = double(n) * weights[i] / sum;
    counts[i] = std::int64_t(std::floor(exact));
    given += counts[i];
    remainders.push_back({exact - double(counts[i]), i});
  }
  std::sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (std::int64_t i = 0; i < n - given; ++i) ++counts[remainders[std::size_t(i) % remainders.size()].second];
  return counts;
}

inline std::vector<double> dirichlet(const std::vector<double>& alpha, Rng& rng) {
  std::vector<double> x(alpha.size());
  double sum = 0;
  for (std::size_t i = 0; i < alpha.size(); ++i) {
    x[i] = std::gamma_distribution<double>(alpha[i], 1.0)(rng);
    sum += x[i];
  }
  if (sum <= 0) {  // all draws underflowed (tiny alpha): put everything on one at random
    std::fill(x.begin(), x.end(), 0.0);
    x[std::uniform_int_distribution<std::size_t>(0, x.size() - 1)(rng)] = 1.0;
    return x;
  }
  for (auto& v : x) v /= sum;
  return x;
}

// Sample indices grouped by label, each group shuffled.
inline Parts by_class(const std::vector<std::int32_t>& labels, std::int64_t num_classes, Rng& rng) {
  Parts groups(num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i) groups[labels[i]].push_back(std::int64_t(i));
  for (auto& g : groups) std::shuffle(g.begin(), g.end(), rng);
  return groups;
}

// Cuts `items` into consecutive pieces of the given sizes, appending piece k to parts[k].
inline void deal(const std::vector<std::int64_t>& items, const std::vector<std::int64_t>& sizes, Parts& parts,
                 const std::vector<std::int64_t>& owners) {
  std::size_t at = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    parts[owners[k]].insert(parts[owners[k]].end(), items.begin() + std::ptrdiff_t(at),
                            items.begin() + std::ptrdiff_t(at + std::size_t(sizes[k])));
    at += std::size_t(sizes[k]);
  }
}

inline void require_enough_samples(std::size_t samples, std::int64_t clients) {
  if (std::int64_t(samples) < clients)
    throw std::invalid_argument(
        fmt::format("{} clients need at least {} training samples, the data set has {}", clients, clients, samples));
}

// Gives every empty client one sample from the currently largest client.
inline void fill_empty_clients(Parts& parts) {
  for (auto& part : parts) {
    if (!part.empty()) continue;
    auto largest = std::max_element(parts.begin(), parts.end(), [](auto& a, auto& b) { return a.size() < b.size(); });
    part.push_back(largest->back());
    largest->pop_back();
  }
}

inline std::vector<std::int64_t> identity(std::size_t n) {
  std::vector<std::int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace psl::partitioners
