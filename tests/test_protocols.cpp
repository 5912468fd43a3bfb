// Protocols: each built-in's schedule is what its definition says, the host checks a
// plugin's schedules and prices them on the virtual clock, and the pieces the Trainer
// adds for protocols (hand-overs, server copies, averaged cut-layer gradients) compute
// what they should.
#include <torch/torch.h>

#include "protocol_plan.hpp"
#include "psl/api/protocol.hpp"
#include "sampling_harness.hpp"
#include "server_part.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

namespace psl::test {
namespace {

std::unique_ptr<Protocol> make_protocol(const std::string& type, std::map<std::string, ParamValue> params = {},
                                        Params training = {}) {
  Context ctx;
  ctx.params = defaults_for(Kind::Protocol, type, std::move(params));
  ctx.training = std::move(training);
  return bundled().make<Protocol>(Kind::Protocol, type, ctx);
}

// A harness planning with `protocol`: 4 clients of 40 samples, batch 32, UGS,
// constant delay (1 ms per sample, 10 ms latency, 100 Mbit/s, server 0.1 ms per
// sample), weights of 1000 bytes.
struct Planned {
  Harness h;
  std::unique_ptr<Protocol> protocol;
  std::unique_ptr<ProtocolPlan> plan;
  Planned(std::unique_ptr<Protocol> p, std::int64_t clients = 4)
      : h("ugs", std::vector<std::int64_t>(std::size_t(clients), 40), 32, {}, "constant",
          {{"compute_s_per_sample", 0.001}, {"latency_s", 0.01}, {"server_s_per_sample", 0.0001}}),
        protocol(std::move(p)) {
    ProtocolPlanConfig c;
    c.name = "test";
    c.num_clients = clients;
    c.bytes_per_sample = 1000;
    c.part_parameter_bytes = c.part_weight_bytes = 1000;
    plan = std::make_unique<ProtocolPlan>(*protocol, c, *h.delay);
    h.planner->set_protocol(plan.get());
  }
};

}  // namespace

TEST_CASE("psl: one pass over the global batch; fedavg averages every sync_every_steps") {
  Params shared({{"client_sync", std::string("shared")}, {"sync_every_steps", std::int64_t(3)}});
  Planned p(make_protocol("psl", {}, shared));
  for (const auto& s : p.h.epoch(0)) {
    REQUIRE(s.schedule.passes.size() == 1);
    CHECK(s.schedule.passes[0].takes.size() == s.takes.size());
    CHECK_FALSE(s.schedule.average_clients);
  }
  Params fedavg({{"client_sync", std::string("fedavg")}, {"sync_every_steps", std::int64_t(2)}});
  Planned f(make_protocol("psl", {}, fedavg));
  CHECK(f.plan->shape().clients == PartLayout::PerClient);
  for (const auto& s : f.h.epoch(0)) CHECK(s.schedule.average_clients == ((s.step + 1) % 2 == 0));
}

TEST_CASE("sl: one client per pass, each taking the part from the client before it, nothing overlapping") {
  Planned p(make_protocol("sl"));
  CHECK(p.plan->shape().evaluate_last_active);
  std::int64_t holder = -1;
  for (const auto& s : p.h.epoch(0)) {
    CHECK(s.schedule.timing == PassTiming::Sequential);
    double sum = 0;
    for (std::size_t i = 0; i < s.schedule.passes.size(); ++i) {
      const auto& pass = s.schedule.passes[i];
      REQUIRE(pass.takes.size() == 1);
      const Take& t = s.takes[pass.takes[0]];
      // The part comes from the client that trained last (none before the first pass).
      CHECK(s.hand_over_from[i] == (holder == t.client ? -1 : holder));
      holder = t.client;
      // Each turn: the client's compute, two latencies and transfers, and the server's compute.
      sum += double(t.count) * 0.001 + 2 * 0.01 + 2 * double(t.count) * 1000 / (100e6 / 8) + double(t.count) * 0.0001;
      if (s.hand_over_from[i] >= 0) sum += 2 * 0.01 + 2 * 1000 / (100e6 / 8);
    }
    CHECK(s.step_time_s == Approx(sum));
    CHECK(s.straggler_wait_s == 0);
  }
}

TEST_CASE("sfl_v1: a pass per take, client parts and server copies averaged every round_steps") {
  Planned p(make_protocol("sfl_v1", {{"round_steps", std::int64_t(3)}}));
  CHECK(p.plan->shape().server_per_client);
  for (const auto& s : p.h.epoch(0)) {
    CHECK(s.schedule.passes.size() == s.takes.size());
    const bool round_end = (s.step + 1) % 3 == 0;
    CHECK(s.schedule.average_clients == round_end);
    CHECK(s.schedule.average_servers == round_end);
    CHECK(s.schedule.weights == AverageWeights::SamplesUsed);
    // Every client sends its part up and gets the average: 4 x 1000 bytes each way.
    CHECK(s.bytes.weights_up == (round_end ? 4000.0 : 0.0));
    CHECK(s.bytes.weights_down == (round_end ? 4000.0 : 0.0));
  }
}

TEST_CASE("sfl_v2: the server serves the step's clients in a seeded order; later clients wait for earlier passes") {
  Planned a(make_protocol("sfl_v2"));
  Planned b(make_protocol("sfl_v2"));
  const auto steps_a = a.h.epoch(0), steps_b = b.h.epoch(0);
  bool some_order_differs_from_take_order = false;
  for (std::size_t i = 0; i < steps_a.size(); ++i) {
    const auto& s = steps_a[i];
    CHECK(s.schedule.timing == PassTiming::ServerInTurn);
    std::vector<std::size_t> order;
    for (const auto& pass : s.schedule.passes) order.push_back(pass.takes.at(0));
    std::vector<std::size_t> order_b;
    for (const auto& pass : steps_b[i].schedule.passes) order_b.push_back(pass.takes.at(0));
    CHECK(order == order_b);  // the same seed and step: the same order
    some_order_differs_from_take_order |= !std::is_sorted(order.begin(), order.end());
    auto sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t j = 0; j < sorted.size(); ++j) CHECK(sorted[j] == j);  // each take once
  }
  CHECK(some_order_differs_from_take_order);
  // The server works through the passes in turn; each pass's clients wait for the passes before theirs.
  for (const auto& s : steps_a) {
    double server_done = 0, expected = 0;
    for (const auto& pass : s.schedule.passes) {
      const Take& t = s.takes[pass.takes[0]];
      server_done += double(t.count) * 0.0001;
      expected = std::max(expected, double(t.count) * 0.001 + 2 * 0.01 + 2 * double(t.count) * 1000 / (100e6 / 8) +
                                        server_done);
    }
    CHECK(s.step_time_s == Approx(expected));
  }
}

TEST_CASE("sglr: one pass with the averaged cut-layer gradient; the learning rates are split") {
  Planned p(make_protocol("sglr", {{"client_lr_scale", 2.0}, {"server_lr_scale", 0.5}}));
  CHECK(p.plan->shape().client_lr_scale == 2.0);
  CHECK(p.plan->shape().server_lr_scale == 0.5);
  for (const auto& s : p.h.epoch(0)) {
    REQUIRE(s.schedule.passes.size() == 1);
    CHECK(s.schedule.passes[0].average_cut_gradients);
  }
  // Row j is the mean over the pieces with a row j.
  const auto a = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}}), b = torch::tensor({{5.0f, 6.0f}});
  const auto avg = average_rows({a, b});
  REQUIRE(avg.size() == 2);
  CHECK(torch::equal(avg[0], torch::tensor({{3.0f, 4.0f}, {3.0f, 4.0f}})));
  CHECK(torch::equal(avg[1], torch::tensor({{3.0f, 4.0f}})));
}

namespace {
// A protocol that forgets the last take: the host must refuse its schedule.
class Forgetful : public Protocol {
 public:
  ProtocolShape shape() const override { return {}; }
  StepSchedule schedule(const StepView& step, Rng&) const override {
    StepSchedule s;
    s.passes.emplace_back();
    for (std::size_t i = 0; i + 1 < step.takes.size(); ++i) s.passes[0].takes.push_back(i);
    return s;
  }
};
}  // namespace

TEST_CASE("a schedule that leaves a take out is refused, naming the protocol and the step") {
  Planned p(std::make_unique<Forgetful>());
  p.h.planner->begin_epoch(0);
  CHECK_THROWS_WITH(p.h.planner->next(), Catch::Contains("protocol 'test'") && Catch::Contains("step 0") &&
                                             Catch::Contains("left a take out"));
}

}  // namespace psl::test
