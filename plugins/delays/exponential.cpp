// Slowdown factor ~ Exponential with the given mean.
#include "slowdown_model.hpp"

namespace {
class Exponential : public psl::delays::SlowdownModel {
 public:
  explicit Exponential(const psl::Context& ctx) : SlowdownModel(ctx), mean_(ctx.params.get_float("mean")) {}

 protected:
  double draw_factor(psl::Rng& rng) const override { return std::exponential_distribution<double>(1.0 / mean_)(rng); }
  double mean_factor() const override { return mean_; }

 private:
  double mean_;
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay(
      {"exponential", "slowdown factor ~ Exp(mean)",
       psl::delays::with({psl::param_float("mean", 1.0, "mean slowdown factor").at_least(1e-9)})},
      [](const psl::Context& ctx) { return std::make_unique<Exponential>(ctx); });
}
