// Slowdown factor = shift + Exponential(mean = scale): a floor plus a random tail.
#include "slowdown_model.hpp"

namespace {
class ShiftedExponential : public psl::delays::SlowdownModel {
 public:
  explicit ShiftedExponential(const psl::Context& ctx)
      : SlowdownModel(ctx), shift_(ctx.params.get_float("shift")), scale_(ctx.params.get_float("scale")) {}

 protected:
  double draw_factor(psl::Rng& rng) const override {
    return shift_ + std::exponential_distribution<double>(1.0 / scale_)(rng);
  }
  double mean_factor() const override { return shift_ + scale_; }

 private:
  double shift_, scale_;
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay({"shifted_exponential", "slowdown factor = shift + Exp(mean scale)",
                       psl::delays::with({psl::param_float("shift", 1.0, "smallest factor").at_least(0),
                                          psl::param_float("scale", 1.0, "mean of the tail").at_least(1e-9)})},
                      [](const psl::Context& ctx) { return std::make_unique<ShiftedExponential>(ctx); });
}
