// sfl_v1: SplitFed V1 (Thapa et al., "SplitFed: when federated learning meets split
// learning", AAAI 2022). Clients train in parallel, each with its own copy of the server
// part: each pair's loss is over that client's samples only. Every round_steps steps the
// client parts, and the server copies, are averaged, weighted by the samples each client
// trained on in the round (FedAvg).
#include "one_pass_per_take.hpp"
#include "psl/plugin.hpp"

namespace {

class SplitFedV1 : public psl::Protocol {
 public:
  explicit SplitFedV1(std::int64_t round_steps) : round_steps_(round_steps) {}

  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = psl::PartLayout::PerClient;
    s.server_per_client = true;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng&) const override {
    psl::StepSchedule s;
    s.passes = psl_protocols::one_pass_per_take(step, nullptr);
    s.timing = psl::PassTiming::Parallel;  // disjoint pairs: nothing waits for another pass
    s.average_clients = s.average_servers = (step.step + 1) % round_steps_ == 0;
    s.weights = psl::AverageWeights::SamplesUsed;
    return s;
  }

 private:
  std::int64_t round_steps_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol(
      {"sfl_v1",
       "SplitFed V1 (Thapa et al. 2022): a server-part copy per client, per-client losses; client parts and server "
       "copies averaged every round_steps steps, weighted by samples used",
       {psl::param_int("round_steps", 10, "steps between averaging points").at_least(1)}},
      [](const psl::Context& ctx) { return std::make_unique<SplitFedV1>(ctx.params.get_int("round_steps")); });
}
