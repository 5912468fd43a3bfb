// Shards (McMahan et al.): sort by label, cut into K * shards_per_client shards of equal
// size, give each client shards_per_client of them at random.
#include <psl/api/partitioner.hpp>
#include <psl/plugin.hpp>

#include "partition_util.hpp"

namespace {

class Shards : public psl::Partitioner {
 public:
  explicit Shards(std::int64_t per_client) : per_client_(per_client) {}

  psl::partitioners::Parts split(const std::vector<std::int32_t>& labels, std::int64_t classes,
                                 std::int64_t clients, psl::Rng& rng) const override {
    using namespace psl::partitioners;
    const std::int64_t shards = clients * per_client_;
    if (std::int64_t(labels.size()) < shards)
      throw std::invalid_argument(fmt::format("{} clients x {} shards need at least {} samples, the data set has {}",
                                              clients, per_client_, shards, labels.size()));
    std::vector<std::int64_t> sorted;
    for (const auto& group : by_class(labels, classes, rng)) sorted.insert(sorted.end(), group.begin(), group.end());
    std::vector<std::int64_t> owner(shards);
    for (std::int64_t s = 0; s < shards; ++s) owner[s] = s / per_client_;
    std::shuffle(owner.begin(), owner.end(), rng);
    Parts parts(clients);
    deal(sorted, proportional_counts(std::int64_t(sorted.size()), std::vector<double>(shards, 1.0)), parts, owner);
    return parts;
  }

 private:
  std::int64_t per_client_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_partitioner({"shards", "sort by label, cut into shards, shards_per_client shards per client",
                             {psl::param_int("shards_per_client", 2, "shards each client gets").at_least(1)}},
                            [](const psl::Context& ctx) {
                              return std::make_unique<Shards>(ctx.params.get_int("shards_per_client"));
                            });
}
