// Every client has the same timing.
#include "slowdown_model.hpp"

namespace {
class Constant : public psl::delays::SlowdownModel {
 public:
  using SlowdownModel::SlowdownModel;

 protected:
  double draw_factor(psl::Rng&) const override { return 1.0; }
  double mean_factor() const override { return 1.0; }
};
}  // namespace

PSL_PLUGIN() {
  registrar.add_delay({"constant", "every client the same", psl::delays::base_params(false)},
                      [](const psl::Context& ctx) { return std::make_unique<Constant>(ctx); });
}
