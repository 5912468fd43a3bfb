// A straggler mixture: round(fraction * K) clients, chosen at random (seeded), are slower
// by `slowdown`; the rest run at the base timing.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "slowdown_model.hpp"

namespace {
class Straggler : public psl::delays::SlowdownModel {
 public:
  explicit Straggler(const psl::Context& ctx)
      : SlowdownModel(ctx), fraction_(ctx.params.get_float("fraction")), slowdown_(ctx.params.get_float("slowdown")) {}

  void setup(std::int64_t num_clients, psl::Rng& rng) override {
    SlowdownModel::setup(num_clients, rng);
    std::vector<std::int64_t> order(num_clients);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const auto slow = std::int64_t(std::llround(fraction_ * double(num_clients)));
    for (std::int64_t i = 0; i < slow; ++i) factors_[order[i]] = slowdown_;
  }

 protected:
  double draw_factor(psl::Rng&) const override { return 1.0; }
  double mean_factor() const override { return 1.0; }

 private:
  double fraction_, slowdown_;
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay(
      {"straggler", "a fraction of clients slower by a factor (compute and latency x s, bandwidth / s)",
       psl::delays::with({psl::param_float("fraction", 0.1, "share of clients that straggle").at_least(0).at_most(1),
                          psl::param_float("slowdown", 10.0, "their slowdown factor s").at_least(1)},
                         false)},
      [](const psl::Context& ctx) { return std::make_unique<Straggler>(ctx); });
}
