// psl: parallel split learning, the setting of the paper this tool implements (Oh et al.,
// "Parallel split learning with global sampling", arXiv 2407.15738). Every client of the
// step computes at once; the server forms one loss over the whole global batch. The
// clients' parts follow training.client_sync: one shared part, own parts, or own parts
// averaged every training.sync_every_steps steps (fedavg).
#include "psl/api/protocol.hpp"
#include "psl/plugin.hpp"

namespace {

class Psl : public psl::Protocol {
 public:
  explicit Psl(const psl::Params& training)
      : sync_(training.get_string("client_sync")), every_(training.get_int("sync_every_steps")) {}

  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = sync_ == "shared" ? psl::PartLayout::Shared : psl::PartLayout::PerClient;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng&) const override {
    psl::StepSchedule s;
    psl::Pass all;
    for (std::size_t i = 0; i < step.takes.size(); ++i) all.takes.push_back(i);
    s.passes.push_back(all);
    s.average_clients = sync_ == "fedavg" && (step.step + 1) % every_ == 0;
    return s;
  }

 private:
  std::string sync_;
  std::int64_t every_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol({"psl",
                          "parallel split learning (arXiv 2407.15738): all clients of a step at once, one loss over "
                          "the global batch; client parts as training.client_sync says",
                          {}},
                         [](const psl::Context& ctx) { return std::make_unique<Psl>(ctx.training); });
}
