// sglr: server-side local gradient averaging and learning-rate splitting (Pal et al.,
// "Server-side local gradient averaging and learning rate acceleration for scalable split
// learning", arXiv 2112.05929). Clients keep their own parts and compute in parallel; the
// one server part forms one loss over the global batch, then sends every client the same
// cut-layer gradient, the average over the clients (row by row), so that the client parts
// move alike without ever being averaged. The learning rate is split into a client-side
// and a server-side rate, each a multiple of training.lr.
#include "psl/api/protocol.hpp"
#include "psl/plugin.hpp"

namespace {

class Sglr : public psl::Protocol {
 public:
  Sglr(double client_scale, double server_scale) : client_scale_(client_scale), server_scale_(server_scale) {}

  psl::ProtocolShape shape() const override {
    psl::ProtocolShape s;
    s.clients = psl::PartLayout::PerClient;
    s.client_lr_scale = client_scale_;
    s.server_lr_scale = server_scale_;
    return s;
  }

  psl::StepSchedule schedule(const psl::StepView& step, psl::Rng&) const override {
    psl::StepSchedule s;
    psl::Pass all;
    for (std::size_t i = 0; i < step.takes.size(); ++i) all.takes.push_back(i);
    all.average_cut_gradients = true;
    s.passes.push_back(all);
    return s;
  }

 private:
  double client_scale_, server_scale_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_protocol(
      {"sglr",
       "SGLR (Pal et al. 2021): own client parts, one server part; every client gets the clients' averaged cut-layer "
       "gradient; split client and server learning rates",
       {psl::param_float("client_lr_scale", 1.0, "client-side learning rate = training.lr x this").at_least(0),
        psl::param_float("server_lr_scale", 1.0, "server-side learning rate = training.lr x this").at_least(0)}},
      [](const psl::Context& ctx) {
        return std::make_unique<Sglr>(ctx.params.get_float("client_lr_scale"), ctx.params.get_float("server_lr_scale"));
      });
}
