// A protocol plugin (docs/protocols.md, "Writing a protocol"): each step's clients in two
// halves, each half under its own loss, the one server part serving the halves in turn;
// every client keeps its own client part.
#include <psl/api/protocol.hpp>
#include <psl/plugin.hpp>

namespace {

class TwoGroups : public psl::Protocol {
 public:
  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = psl::PartLayout::PerClient;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng&) const override {
    psl::StepSchedule s;
    s.passes.resize(2);
    for (std::size_t i = 0; i < step.takes.size(); ++i) s.passes[i % 2].takes.push_back(i);
    if (s.passes[1].takes.empty()) s.passes.pop_back();  // a step of one client: one pass
    s.timing = psl::PassTiming::ServerInTurn;
    return s;
  }
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol({"two_groups", "two losses per step, one per half of the step's clients", {}},
                         [](const psl::Context&) { return std::make_unique<TwoGroups>(); });
}
