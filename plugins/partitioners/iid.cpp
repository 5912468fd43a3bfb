// IID: a random permutation cut into K parts of (nearly) equal size.
#include <psl/api/partitioner.hpp>
#include <psl/plugin.hpp>

#include "partition_util.hpp"

namespace {

class Iid : public psl::Partitioner {
 public:
  psl::partitioners::Parts split(const std::vector<std::int32_t>& labels, std::int64_t, std::int64_t clients,
                                 psl::Rng& rng) const override {
    using namespace psl::partitioners;
    require_enough_samples(labels.size(), clients);
    auto order = identity(labels.size());
    std::shuffle(order.begin(), order.end(), rng);
    Parts parts(clients);
    deal(order, proportional_counts(std::int64_t(order.size()), std::vector<double>(clients, 1.0)), parts,
         identity(std::size_t(clients)));
    return parts;
  }
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_partitioner({"iid", "random, equal sizes", {}},
                            [](const psl::Context&) { return std::make_unique<Iid>(); });
}
