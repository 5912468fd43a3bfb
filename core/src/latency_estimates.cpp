#include "latency_estimates.hpp"

#include <algorithm>

namespace psl {

void LatencyEstimates::observe(std::int64_t client, std::int64_t samples, double seconds) {
  auto& f = fits_.at(std::size_t(client));
  const double b = double(samples);
  f.n += 1;
  f.sb += b;
  f.st += seconds;
  f.sbb += b * b;
  f.sbt += b * seconds;
}

double LatencyEstimates::expected(std::int64_t client, std::int64_t samples) const {
  const auto& f = fits_.at(std::size_t(client));
  const double mean_b = f.sb / f.n, mean_t = f.st / f.n;
  const double var_b = f.sbb / f.n - mean_b * mean_b;
  // One batch size seen so far: the mean step time, scaled by nothing (a and c cannot be
  // told apart yet, and latency usually dominates small steps).
  if (var_b <= 1e-9 * std::max(1.0, mean_b * mean_b)) return mean_t;
  const double c = std::max(0.0, (f.sbt / f.n - mean_b * mean_t) / var_b);
  const double a = std::max(0.0, mean_t - c * mean_b);
  return a + c * double(samples);
}

}  // namespace psl
