// Dirichlet label skew: for each class, the clients' shares of it ~ Dir(alpha).
#include <psl/api/partitioner.hpp>
#include <psl/plugin.hpp>

#include "partition_util.hpp"

namespace {

class Dirichlet : public psl::Partitioner {
 public:
  explicit Dirichlet(double alpha) : alpha_(alpha) {}

  psl::partitioners::Parts split(const std::vector<std::int32_t>& labels, std::int64_t classes,
                                 std::int64_t clients, psl::Rng& rng) const override {
    using namespace psl::partitioners;
    require_enough_samples(labels.size(), clients);
    Parts parts(clients);
    const auto owners = identity(std::size_t(clients));
    for (const auto& group : by_class(labels, classes, rng)) {
      const auto shares = dirichlet(std::vector<double>(clients, alpha_), rng);
      deal(group, proportional_counts(std::int64_t(group.size()), shares), parts, owners);
    }
    fill_empty_clients(parts);
    return parts;
  }

 private:
  double alpha_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_partitioner(
      {"dirichlet", "per class, client shares ~ Dir(alpha); small alpha: strong label skew",
       {psl::param_float("alpha", 0.5, "Dirichlet concentration").at_least(1e-6)}},
      [](const psl::Context& ctx) { return std::make_unique<Dirichlet>(ctx.params.get_float("alpha")); });
}
