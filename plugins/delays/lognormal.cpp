// Slowdown factor ~ LogNormal(-sigma^2/2, sigma): mean 1, spread set by sigma.
#include <cmath>

#include "slowdown_model.hpp"

namespace {
class LogNormal : public psl::delays::SlowdownModel {
 public:
  explicit LogNormal(const psl::Context& ctx) : SlowdownModel(ctx), sigma_(ctx.params.get_float("sigma")) {}

 protected:
  double draw_factor(psl::Rng& rng) const override {
    return std::lognormal_distribution<double>(-sigma_ * sigma_ / 2, sigma_)(rng);
  }
  double mean_factor() const override { return 1.0; }

 private:
  double sigma_;
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay({"lognormal", "slowdown factor ~ LogNormal with mean 1",
                       psl::delays::with({psl::param_float("sigma", 0.5, "sigma of the log factor").at_least(0)})},
                      [](const psl::Context& ctx) { return std::make_unique<LogNormal>(ctx); });
}
