// Extended Dirichlet (the paper's non-IID setting): each client holds exactly
// `classes_per_client` classes, picked so that classes are spread evenly over clients
// (probability proportional to exp(-times_already_picked * num_classes)); then, per
// class, its holders' shares ~ Dir(alpha), every holder getting at least one sample.
#include <psl/api/partitioner.hpp>
#include <psl/plugin.hpp>

#include "partition_util.hpp"

namespace {

class ExtendedDirichlet : public psl::Partitioner {
 public:
  ExtendedDirichlet(std::int64_t classes_per_client, double alpha) : per_client_(classes_per_client), alpha_(alpha) {}

  psl::partitioners::Parts split(const std::vector<std::int32_t>& labels, std::int64_t classes,
                                 std::int64_t clients, psl::Rng& rng) const override {
    using namespace psl::partitioners;
    if (per_client_ > classes)
      throw std::invalid_argument(fmt::format("partitioner.classes_per_client = {} but the data set has only {} classes",
                                              per_client_, classes));
    if (per_client_ * clients < classes)
      throw std::invalid_argument(fmt::format("{} clients x {} classes each cannot cover all {} classes",
                                              clients, per_client_, classes));
    // Pick each client's classes.
    std::vector<std::int64_t> picked(classes, 0);
    std::vector<std::vector<std::int64_t>> holders(classes);
    for (std::int64_t k = 0; k < clients; ++k) {
      std::vector<bool> mine(classes, false);
      for (std::int64_t j = 0; j < per_client_; ++j) {
        // Relative to the least-picked class, so the weights never underflow to zero.
        std::int64_t least = INT64_MAX;
        for (std::int64_t c = 0; c < classes; ++c)
          if (!mine[c]) least = std::min(least, picked[c]);
        std::vector<double> w(classes, 0.0);
        for (std::int64_t c = 0; c < classes; ++c)
          if (!mine[c]) w[c] = std::exp(-double(picked[c] - least) * double(classes));
        const auto c = std::int64_t(std::discrete_distribution<std::int64_t>(w.begin(), w.end())(rng));
        mine[c] = true;
        ++picked[c];
        holders[c].push_back(k);
      }
    }
    // Deal each class among its holders.
    Parts parts(clients);
    auto groups = by_class(labels, classes, rng);
    for (std::int64_t c = 0; c < classes; ++c) {
      const auto& group = groups[c];
      const auto& owners = holders[c];
      if (group.size() < owners.size())
        throw std::invalid_argument(fmt::format("class {} has {} samples but {} clients hold it; use fewer clients "
                                                "or fewer classes_per_client",
                                                c, group.size(), owners.size()));
      auto sizes = proportional_counts(std::int64_t(group.size() - owners.size()),
                                       dirichlet(std::vector<double>(owners.size(), alpha_), rng));
      for (auto& s : sizes) ++s;  // at least one sample of each held class
      deal(group, sizes, parts, owners);
    }
    return parts;
  }

 private:
  std::int64_t per_client_;
  double alpha_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_partitioner(
      {"extended_dirichlet",
       "each client holds classes_per_client classes; per class, holders' shares ~ Dir(alpha) (severe: 2, 3; mild: 5, 3)",
       {psl::param_int("classes_per_client", 2, "classes each client holds").at_least(1),
        psl::param_float("alpha", 3.0, "Dirichlet concentration within a class").at_least(1e-6)}},
      [](const psl::Context& ctx) {
        return std::make_unique<ExtendedDirichlet>(ctx.params.get_int("classes_per_client"),
                                                   ctx.params.get_float("alpha"));
      });
}
