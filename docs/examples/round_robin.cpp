// A sampler plugin built outside the source tree (docs/writing-a-plugin.md):
// each step takes up to `per_client` samples from `clients_per_step` clients in turn.
#include <psl/api/sampler.hpp>
#include <psl/plugin.hpp>

#include <algorithm>

namespace {

class RoundRobin : public psl::Sampler {
 public:
  RoundRobin(std::int64_t clients_per_step, std::int64_t per_client)
      : clients_per_step_(clients_per_step), per_client_(per_client) {}

  void begin_epoch(const psl::ClientState&, psl::Rng&) override { next_client_ = 0; }

  std::vector<psl::Take> next_step(const psl::ClientState& clients, psl::Rng&) override {
    std::vector<psl::Take> takes;
    const std::int64_t K = clients.num_clients();
    // Walk the clients in turn, skipping those with nothing left, until the step is full
    // or every client has been looked at once.
    for (std::int64_t looked = 0; looked < K && std::int64_t(takes.size()) < clients_per_step_; ++looked) {
      const std::int64_t k = next_client_;
      next_client_ = (next_client_ + 1) % K;
      const std::int64_t left = clients.remaining(k);
      if (left > 0) takes.push_back({k, std::min(per_client_, left)});
    }
    return takes;
  }

 private:
  std::int64_t clients_per_step_, per_client_;
  std::int64_t next_client_ = 0;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_sampler(
      {"round_robin", "clients in turn, a few per step",
       {psl::param_int("clients_per_step", 4, "clients in each step").at_least(1),
        psl::param_int("per_client", 32, "samples taken from each of them").at_least(1)}},
      [](const psl::Context& ctx) {
        return std::make_unique<RoundRobin>(ctx.params.get_int("clients_per_step"), ctx.params.get_int("per_client"));
      });
}
