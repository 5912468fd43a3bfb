// The LDS draw on a tree (plugins/samplers/dirichlet_tree.hpp): opening only the nodes
// that matter must give the same counts as opening every leaf.
#include <catch2/catch.hpp>
#include <numeric>

#include "dirichlet_tree.hpp"

using psl::samplers::DirichletTree;

namespace {

struct Case {
  std::vector<DirichletTree::Channels> leaves;
  std::vector<std::int64_t> room;
};

// Leaves with uneven weights: many tiny, a few large, some zero (no data).
Case random_case(std::int64_t K, psl::Rng& rng) {
  Case c;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::int64_t k = 0; k < K; ++k) {
    const double u = unit(rng);
    const std::int64_t r = u < 0.1 ? 0 : u < 0.9 ? 1 + std::int64_t(unit(rng) * 5) : 1 + std::int64_t(unit(rng) * 400);
    c.room.push_back(r);
    c.leaves.push_back({double(r), double(r) * (1 + 9 * unit(rng)), double(r)});
  }
  return c;
}

std::vector<DirichletTree::Count> draw(const Case& c, bool exhaustive, const DirichletTree::Channels& coef,
                                       std::int64_t open_end, std::int64_t target, std::uint64_t seed) {
  DirichletTree tree(std::int64_t(c.leaves.size()), exhaustive);
  for (std::size_t k = 0; k < c.leaves.size(); ++k) tree.set(std::int64_t(k), c.leaves[k]);
  psl::Rng rng(seed);
  return tree.draw(
      coef, open_end, target, [&](std::int64_t leaf) { return c.room[std::size_t(leaf)]; }, rng);
}

}  // namespace

TEST_CASE("dirichlet tree: opening only what matters gives the counts of opening every leaf", "[sampler][lds]") {
  psl::Rng cases(7);
  for (std::int64_t K : {1, 2, 3, 7, 64, 1000, 4099}) {
    const Case c = random_case(K, cases);
    const std::int64_t total_room = std::accumulate(c.room.begin(), c.room.end(), std::int64_t{0});
    const double mass = c.leaves.empty() ? 0 : std::accumulate(c.room.begin(), c.room.end(), 0.0);
    for (double concentration : {0.05, 1.0, 20.0}) {
      for (std::int64_t target : {1, 16, 128, 700}) {
        for (std::int64_t open_end : {K, (K + 1) / 2}) {
          for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            INFO("K=" << K << " c=" << concentration << " target=" << target << " open=" << open_end
                      << " seed=" << seed);
            // Alpha from two channels, as LDS's gate mode builds it; sum alpha = c * target.
            const DirichletTree::Channels coef{0.5 * concentration * double(target) / std::max(1.0, mass),
                                               0.1 * concentration * double(target) / std::max(1.0, mass), 0.0};
            const auto lazy = draw(c, false, coef, open_end, target, seed);
            const auto full = draw(c, true, coef, open_end, target, seed);
            REQUIRE(lazy.size() == full.size());
            std::int64_t sum = 0;
            for (std::size_t i = 0; i < lazy.size(); ++i) {
              REQUIRE(lazy[i].leaf == full[i].leaf);
              REQUIRE(lazy[i].count == full[i].count);
              REQUIRE(lazy[i].count > 0);
              REQUIRE(lazy[i].count <= c.room[std::size_t(lazy[i].leaf)]);
              sum += lazy[i].count;
            }
            REQUIRE(sum == std::min(target, total_room));
          }
        }
      }
    }
  }
}

namespace {
// Dirichlet(alpha) has E[pi_k] = m_k = alpha_k / sum alpha and Var(pi_k) = m_k (1 - m_k) /
// (sum alpha + 1); with a large target the rounded counts divided by the target estimate
// both closely.
void check_share_moments(const std::vector<double>& alpha, std::uint64_t seed) {
  const double sum_alpha = std::accumulate(alpha.begin(), alpha.end(), 0.0);
  DirichletTree tree(std::int64_t(alpha.size()));
  for (std::size_t k = 0; k < alpha.size(); ++k) tree.set(std::int64_t(k), {alpha[k], 0, 0});
  psl::Rng rng(seed);
  const std::int64_t target = 10000, draws = 4000;
  std::vector<double> mean(alpha.size(), 0.0), square(alpha.size(), 0.0);
  for (std::int64_t d = 0; d < draws; ++d)
    for (const auto& c : tree.draw(
             {1, 0, 0}, std::int64_t(alpha.size()), target, [](std::int64_t) { return std::int64_t{1} << 40; }, rng)) {
      const double share = double(c.count) / double(target);
      mean[std::size_t(c.leaf)] += share / double(draws);
      square[std::size_t(c.leaf)] += share * share / double(draws);
    }
  for (std::size_t k = 0; k < alpha.size(); ++k) {
    const double m = alpha[k] / sum_alpha, variance = m * (1 - m) / (sum_alpha + 1);
    const double measured_variance = square[k] - mean[k] * mean[k];
    INFO("leaf " << k << ": mean share " << mean[k] << ", alpha says " << m << "; variance " << measured_variance
                 << ", alpha says " << variance);
    // Five standard errors of the mean; the variance within 15% (4,000 draws).
    CHECK(std::abs(mean[k] - m) <= 5 * std::sqrt(variance / double(draws)) + 1.0 / double(target));
    CHECK(std::abs(measured_variance - variance) <= 0.15 * variance + 1e-6);
  }
}
}  // namespace

TEST_CASE("dirichlet tree: shares follow alpha", "[sampler][lds][statistics]") {
  check_share_moments({0.5, 3.0, 0.01, 10.0, 0.0, 1.49}, 11);  // splits by two gamma variates
}

TEST_CASE("dirichlet tree: shares follow small alphas (splits by Johnk's method)", "[sampler][lds][statistics]") {
  // Every node's alpha sum is at most 1, as deep in a tree over many clients.
  check_share_moments({0.2, 0.05, 0.3, 0.01, 0.15, 0.25, 0.02, 0.02}, 12);
}
