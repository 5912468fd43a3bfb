// Expected step latency of each real client from what was observed: a running
// least-squares fit of seconds = a_k + c_k * samples per client (a: the per-step cost of
// round trips, c: compute and transfer per sample). What samplers read as
// expected_latency_s when clients are real (docs/time-model.md).
#pragma once

#include <cstdint>
#include <vector>

namespace psl {

class LatencyEstimates {
 public:
  explicit LatencyEstimates(std::int64_t num_clients) : fits_(std::size_t(num_clients)) {}
  void observe(std::int64_t client, std::int64_t samples, double seconds);
  bool known(std::int64_t client) const { return fits_.at(std::size_t(client)).n > 0; }
  // Seconds for `client` to take part in a step with `samples` samples; needs known().
  double expected(std::int64_t client, std::int64_t samples) const;

 private:
  struct Fit {
    double n = 0, sb = 0, st = 0, sbb = 0, sbt = 0;
  };
  std::vector<Fit> fits_;
};

}  // namespace psl
