// Quantity skew: IID labels, client sizes drawn from a lognormal or a power law.
#include <psl/api/partitioner.hpp>
#include <psl/plugin.hpp>

#include "partition_util.hpp"

namespace {

class QuantitySkew : public psl::Partitioner {
 public:
  QuantitySkew(std::string distribution, double sigma, double exponent)
      : distribution_(std::move(distribution)), sigma_(sigma), exponent_(exponent) {}

  psl::partitioners::Parts split(const std::vector<std::int32_t>& labels, std::int64_t, std::int64_t clients,
                                 psl::Rng& rng) const override {
    using namespace psl::partitioners;
    require_enough_samples(labels.size(), clients);
    std::vector<double> weights(clients);
    for (auto& w : weights) {
      if (distribution_ == "lognormal") {
        w = std::lognormal_distribution<double>(0.0, sigma_)(rng);
      } else {  // power law: Pareto with x_min 1, density ~ x^-(exponent+1)
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        w = std::pow(1.0 - u, -1.0 / exponent_);
      }
    }
    // One sample each first, so no client is empty; the rest by weight.
    auto sizes = proportional_counts(std::int64_t(labels.size()) - clients, weights);
    for (auto& s : sizes) ++s;
    auto order = identity(labels.size());
    std::shuffle(order.begin(), order.end(), rng);
    Parts parts(clients);
    deal(order, sizes, parts, identity(std::size_t(clients)));
    return parts;
  }

 private:
  std::string distribution_;
  double sigma_, exponent_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_partitioner(
      {"quantity_skew", "IID labels, client sizes from a lognormal or a power law",
       {psl::param_string("distribution", "lognormal", "size distribution").one_of({"lognormal", "power_law"}),
        psl::param_float("sigma", 1.0, "lognormal: sigma of log size").at_least(0),
        psl::param_float("exponent", 1.5, "power_law: tail exponent (smaller: more skew)").at_least(0.01)}},
      [](const psl::Context& ctx) {
        return std::make_unique<QuantitySkew>(ctx.params.get_string("distribution"), ctx.params.get_float("sigma"),
                                              ctx.params.get_float("exponent"));
      });
}
