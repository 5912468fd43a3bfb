// Label balance for a step's takes, when the manifest grants label histograms
// (`sampler.label_aware = true`): moves samples one at a time between the step's movable
// clients while that brings the batch's expected label mix closer to the mix of the data
// still left in the epoch (what a uniform draw from the pool would have). A client's
// expected mix is its histogram over N_k (R_k says how many samples are left, not which).
// Aiming at the remaining data, not the whole training set, matters: aiming at the
// training set used up the fast clients' share of the classes it kept adding, and the
// epoch ended on steps of the other classes (deviation 0.55 in its last steps).
// Counts stay within [1, R_k], so the epoch contract holds; the batch size does not
// change. Cost per step: O(K C) for the remaining mix, then O(n^2 C) per move for n
// clients in the step and C classes, at most one move per sample of the step.
#pragma once

#include <psl/api/sampler.hpp>

#include <cstdint>
#include <vector>

namespace psl::samplers {

class LabelBalance {
 public:
  // Without histograms granted by the manifest, apply() does nothing.
  void begin_epoch(const ClientState& clients) {
    const std::int64_t K = clients.num_clients();
    mix_.clear();
    if (K == 0 || clients.label_histogram(0) == nullptr) return;
    const std::size_t C = clients.label_histogram(0)->size();
    mix_.resize(std::size_t(K));
    for (std::int64_t k = 0; k < K; ++k) {
      const auto& h = *clients.label_histogram(k);
      const double n = double(clients.total(k));
      mix_[std::size_t(k)].assign(C, 0.0);
      for (std::size_t c = 0; c < C; ++c)
        if (n > 0) mix_[std::size_t(k)][c] = double(h[c]) / n;
    }
  }

  // Rebalances `takes` in place among the takes whose `movable(client)` is true.
  template <class Movable>
  void apply(std::vector<Take>& takes, const ClientState& clients, Movable&& movable) const {
    if (mix_.empty()) return;
    const std::size_t C = mix_[0].size();
    // The expected label mix of the data left (before this step's counts).
    std::vector<double> left(C, 0.0);
    double total_left = 0;
    for (std::int64_t k = 0; k < clients.num_clients(); ++k) {
      const double r = double(clients.remaining(k));
      total_left += r;
      for (std::size_t c = 0; c < C; ++c) left[c] += r * mix_[std::size_t(k)][c];
    }
    std::vector<std::size_t> open;  // indices into takes
    std::int64_t batch = 0;
    for (std::size_t i = 0; i < takes.size(); ++i) {
      batch += takes[i].count;
      if (movable(takes[i].client)) open.push_back(i);
    }
    // d = expected label counts of the batch minus the remaining data's mix at its size.
    std::vector<double> d(C);
    for (std::size_t c = 0; c < C; ++c) d[c] = -double(batch) * left[c] / total_left;
    for (const auto& t : takes)
      for (std::size_t c = 0; c < C; ++c) d[c] += double(t.count) * mix_[std::size_t(t.client)][c];
    for (std::int64_t move = 0; move < batch; ++move) {
      // One sample from take a to take b changes d by mix_b - mix_a; the squared
      // distance by 2 d.(mix_b - mix_a) + |mix_b - mix_a|^2.
      double best = -1e-12;
      std::size_t from = 0, to = 0;
      for (std::size_t a : open) {
        if (takes[a].count <= 1) continue;
        const auto& ma = mix_[std::size_t(takes[a].client)];
        for (std::size_t b : open) {
          if (a == b || takes[b].count >= clients.remaining(takes[b].client)) continue;
          const auto& mb = mix_[std::size_t(takes[b].client)];
          double change = 0;
          for (std::size_t c = 0; c < C; ++c) {
            const double step = mb[c] - ma[c];
            change += step * (2 * d[c] + step);
          }
          if (change < best) best = change, from = a, to = b;
        }
      }
      if (best >= -1e-12) break;
      --takes[from].count;
      ++takes[to].count;
      for (std::size_t c = 0; c < C; ++c)
        d[c] += mix_[std::size_t(takes[to].client)][c] - mix_[std::size_t(takes[from].client)][c];
    }
  }

 private:
  std::vector<std::vector<double>> mix_;  // per client: histogram / N_k
};

}  // namespace psl::samplers
