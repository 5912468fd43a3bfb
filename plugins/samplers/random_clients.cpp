// A small bundled example sampler (the plugin guide's own example is
// docs/examples/round_robin.cpp): each step, `clients_per_step` clients chosen at random
// among the online ones with data left contribute B / clients_per_step samples each (fewer if
// they have fewer left).
#include <psl/api/sampler.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <random>

namespace {

class RandomClients : public psl::Sampler {
 public:
  RandomClients(std::int64_t batch_size, std::int64_t per_step) : batch_size_(batch_size), per_step_(per_step) {}

  std::vector<psl::Take> next_step(const psl::ClientState& clients, psl::Rng& rng) override {
    std::vector<std::int64_t> with_data;
    for (std::int64_t k = 0; k < clients.num_clients(); ++k)
      if (clients.remaining(k) > 0 && clients.online(k)) with_data.push_back(k);
    std::shuffle(with_data.begin(), with_data.end(), rng);
    with_data.resize(std::min<std::size_t>(with_data.size(), std::size_t(per_step_)));
    std::sort(with_data.begin(), with_data.end());

    const std::int64_t each = std::max<std::int64_t>(1, batch_size_ / per_step_);
    std::vector<psl::Take> takes;
    for (std::int64_t k : with_data) takes.push_back({k, std::min(each, clients.remaining(k))});
    return takes;
  }

 private:
  std::int64_t batch_size_, per_step_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler(
      {"random_clients", "example: a few random clients per step, B / clients_per_step samples each",
       {psl::param_int("clients_per_step", 4, "clients drawn per step").at_least(1)}},
      [](const psl::Context& ctx) {
        return std::make_unique<RandomClients>(ctx.batch_size, ctx.params.get_int("clients_per_step"));
      });
}
