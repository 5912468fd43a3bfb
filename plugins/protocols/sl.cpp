// sl: vanilla split learning (Gupta and Raskar, "Distributed learning of deep neural
// network over multiple agents", 2018). One client at a time trains with the server; the
// client part travels from client to client. Here each take of the step is one client's
// turn, in an order drawn from the step's seeded generator: the client receives the part
// from the client that trained last, trains on its take (one update of both parts), and
// holds the part until the next turn. With a sampler that gives one client per step, this
// is Gupta and Raskar's round robin over clients.
#include "one_pass_per_take.hpp"
#include "psl/plugin.hpp"

namespace {

class SequentialSplitLearning : public psl::Protocol {
 public:
  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = psl::PartLayout::PerClient;
    s.evaluate_last_active = true;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng& rng) const override {
    psl::StepSchedule s;
    s.passes = psl_protocols::one_pass_per_take(step, &rng);
    for (auto& pass : s.passes) pass.receive_part = true;
    s.timing = psl::PassTiming::Sequential;
    return s;
  }
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol({"sl",
                          "vanilla split learning (Gupta and Raskar 2018): the step's clients train one after another "
                          "(seeded order), handing one client part on",
                          {}},
                         [](const psl::Context&) { return std::make_unique<SequentialSplitLearning>(); });
}
