// sfl_v2: SplitFed V2 (Thapa et al., "SplitFed: when federated learning meets split
// learning", AAAI 2022). Clients compute in parallel, but the one server part serves them
// one after another, in an order drawn from the step's seeded generator, updating after
// each client. Client parts are averaged every round_steps steps, weighted by the samples
// each client trained on in the round.
#include "one_pass_per_take.hpp"
#include "psl/plugin.hpp"

namespace {

class SplitFedV2 : public psl::Protocol {
 public:
  explicit SplitFedV2(std::int64_t round_steps) : round_steps_(round_steps) {}

  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = psl::PartLayout::PerClient;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng& rng) const override {
    psl::StepSchedule s;
    s.passes = psl_protocols::one_pass_per_take(step, &rng);
    s.timing = psl::PassTiming::ServerInTurn;
    s.average_clients = (step.step + 1) % round_steps_ == 0;
    s.weights = psl::AverageWeights::SamplesUsed;
    return s;
  }

 private:
  std::int64_t round_steps_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol(
      {"sfl_v2",
       "SplitFed V2 (Thapa et al. 2022): one server part serving the step's clients in turn (seeded order); client "
       "parts averaged every round_steps steps, weighted by samples used",
       {psl::param_int("round_steps", 10, "steps between averaging the client parts").at_least(1)}},
      [](const psl::Context& ctx) { return std::make_unique<SplitFedV2>(ctx.params.get_int("round_steps")); });
}
