// Slowdown factor ~ Pareto(scale x_m, shape a): heavy-tailed, mean a x_m / (a - 1).
#include <cmath>
#include <limits>

#include "slowdown_model.hpp"

namespace {
class Pareto : public psl::delays::SlowdownModel {
 public:
  explicit Pareto(const psl::Context& ctx)
      : SlowdownModel(ctx), scale_(ctx.params.get_float("scale")), shape_(ctx.params.get_float("shape")) {}

 protected:
  double draw_factor(psl::Rng& rng) const override {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    return scale_ * std::pow(1.0 - u, -1.0 / shape_);
  }
  double mean_factor() const override {
    return shape_ > 1 ? shape_ * scale_ / (shape_ - 1) : std::numeric_limits<double>::infinity();
  }

 private:
  double scale_, shape_;
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay({"pareto", "slowdown factor ~ Pareto(scale, shape), heavy-tailed",
                       psl::delays::with({psl::param_float("scale", 1.0, "smallest factor x_m").at_least(1e-9),
                                          psl::param_float("shape", 3.0, "tail index a (> 1 for a finite mean)")
                                              .at_least(1e-3)})},
                      [](const psl::Context& ctx) { return std::make_unique<Pareto>(ctx); });
}
