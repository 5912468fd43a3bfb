#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "latency_estimates.hpp"
#include "sampling_harness.hpp"

using namespace psl;
using test::Harness;

namespace {
const std::vector<std::int64_t> kSkewed = {500, 37, 1, 120, 260, 82, 3, 997};

void require_each_sample_once(const std::vector<PlannedStep>& steps, std::int64_t n) {
  std::vector<int> seen(std::size_t(n), 0);
  for (const auto& s : steps)
    for (auto i : s.indices) ++seen.at(std::size_t(i));
  for (auto c : seen) REQUIRE(c == 1);
}

std::int64_t total(const std::vector<std::int64_t>& sizes) { return std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}); }
}  // namespace

TEST_CASE("every sampler uses every sample exactly once per epoch", "[sampler]") {
  for (const std::string type : {"ugs", "fls", "fpls", "lds", "random_clients"}) {
    for (const auto& sizes : {kSkewed, std::vector<std::int64_t>(20, 50), std::vector<std::int64_t>{1}}) {
      for (std::int64_t B : {1, 16, 128}) {
        INFO(type << " B=" << B << " K=" << sizes.size());
        Harness h(type, sizes, B);
        for (std::int64_t e = 0; e < 3; ++e) require_each_sample_once(h.epoch(e), total(sizes));
      }
    }
  }
  // LDS with slow clients gated, under both share draws.
  const std::map<std::string, ParamValue> stragglers = {{"fraction", 0.2}, {"slowdown", 10.0}, {"latency_s", 0.05}};
  for (const std::string shares : {"dirichlet", "uniform"})
    for (std::int64_t B : {1, 16, 128}) {
      INFO("lds shares=" << shares << " B=" << B);
      Harness h("lds", kSkewed, B, {{"shares", shares}}, "straggler", stragglers);
      for (std::int64_t e = 0; e < 3; ++e) require_each_sample_once(h.epoch(e), total(kSkewed));
    }
}

TEST_CASE("ugs takes exactly ceil(N/B) steps of sizes differing by at most one", "[sampler][ugs]") {
  Harness h("ugs", kSkewed, 64);
  const std::int64_t n = total(kSkewed), T = (n + 63) / 64;
  const auto steps = h.epoch(0);
  REQUIRE(std::int64_t(steps.size()) == T);
  for (const auto& s : steps) {
    CHECK(s.batch_size >= n / T);
    CHECK(s.batch_size <= (n + T - 1) / T);
  }
}

TEST_CASE("fls and fpls take max_k ceil(N_k / b_k) steps", "[sampler][fls][fpls]") {
  const std::int64_t B = 64, K = std::int64_t(kSkewed.size()), n = total(kSkewed);
  std::int64_t fls_steps = 0, fpls_steps = 0;
  for (auto nk : kSkewed) {
    const std::int64_t b_fls = std::max<std::int64_t>(1, std::llround(double(B) / double(K)));
    const std::int64_t b_fpls = std::max<std::int64_t>(1, std::llround(double(B) * double(nk) / double(n)));
    fls_steps = std::max(fls_steps, (nk + b_fls - 1) / b_fls);
    fpls_steps = std::max(fpls_steps, (nk + b_fpls - 1) / b_fpls);
  }
  CHECK(std::int64_t(Harness("fls", kSkewed, B).epoch(0).size()) == fls_steps);
  CHECK(std::int64_t(Harness("fpls", kSkewed, B).epoch(0).size()) == fpls_steps);
}

TEST_CASE("ugs per-client counts follow the multivariate hypergeometric law", "[sampler][ugs][statistics]") {
  // The first batch of each epoch is a uniform draw of s items from N without
  // replacement, so client k's count has mean s p_k and variance
  // s p_k (1 - p_k) (N - s) / (N - 1). Over E independent epochs the sample mean is
  // within 5 standard errors; so is the sample variance (its standard error is about
  // var * sqrt(2 / (E - 1)) for a near-normal count). LDS with uniform shares and no
  // slow client draws the same way.
  const std::vector<std::int64_t> sizes = {400, 300, 200, 100};
  const std::int64_t N = 1000, B = 100, E = 3000;
  const bool lds = GENERATE(false, true);
  INFO((lds ? "lds, shares = uniform, delta 0" : "ugs"));
  Harness h(lds ? "lds" : "ugs", sizes, B,
            lds ? std::map<std::string, ParamValue>{{"delay_skew", 0.0}, {"shares", std::string("uniform")}}
                : std::map<std::string, ParamValue>{});
  std::vector<std::vector<double>> counts(sizes.size());
  for (std::int64_t e = 0; e < E; ++e) {
    h.planner->begin_epoch(e);
    const auto step = h.planner->next();
    std::vector<double> c(sizes.size(), 0.0);
    for (const auto& t : step.takes) c[std::size_t(t.client)] = double(t.count);
    for (std::size_t k = 0; k < sizes.size(); ++k) counts[k].push_back(c[k]);
  }
  const double s = double(B);
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const double p = double(sizes[k]) / double(N);
    const double mean = s * p, var = s * p * (1 - p) * (double(N) - s) / double(N - 1);
    const double m = std::accumulate(counts[k].begin(), counts[k].end(), 0.0) / double(E);
    double v = 0;
    for (double x : counts[k]) v += (x - m) * (x - m);
    v /= double(E - 1);
    INFO("client " << k << " mean " << m << " (expected " << mean << "), variance " << v << " (expected " << var << ")");
    CHECK(std::abs(m - mean) < 5 * std::sqrt(var / double(E)));
    CHECK(std::abs(v - var) < 5 * var * std::sqrt(2.0 / double(E - 1)));
  }
}

TEST_CASE("samplers are deterministic for a seed and differ across seeds", "[sampler]") {
  auto schedule = [](const std::string& type, std::uint64_t seed) {
    Harness h(type, kSkewed, 32, {}, "constant", {}, seed);
    std::vector<std::vector<Take>> out;
    for (std::int64_t e = 0; e < 2; ++e)
      for (auto& s : h.epoch(e)) out.push_back(s.takes);
    return out;
  };
  for (const std::string type : {"ugs", "lds", "random_clients"}) {
    INFO(type);
    CHECK(schedule(type, 3) == schedule(type, 3));
    CHECK(schedule(type, 3) != schedule(type, 4));
  }
}

TEST_CASE("the host refuses a schedule that breaks the contract", "[sampler]") {
  // A deadline so tight that only the fastest clients may contribute still ends the epoch.
  Harness h("ugs", kSkewed, 64, {}, "straggler", {{"fraction", 0.5}, {"slowdown", 10.0}}, 1, 0.05);
  const auto steps = h.epoch(0);
  require_each_sample_once(steps, total(kSkewed));
  std::int64_t deferred = 0;
  for (const auto& s : steps) deferred += s.deferred;
  CHECK(deferred > 0);
}

namespace {
struct DeviationStats {
  double mean = 0, standard_error = 0;
};
DeviationStats deviation(Harness& h, std::int64_t epochs) {
  std::vector<double> d;
  for (std::int64_t e = 0; e < epochs; ++e)
    for (const auto& s : h.epoch(e)) d.push_back(s.batch_deviation);
  DeviationStats out;
  for (double x : d) out.mean += x;
  out.mean /= double(d.size());
  double var = 0;
  for (double x : d) var += (x - out.mean) * (x - out.mean);
  out.standard_error = std::sqrt(var / double(d.size() - 1) / double(d.size()));
  return out;
}
}  // namespace

TEST_CASE("lds with delta 0 and c = 1 matches ugs's batch deviation; larger c lowers it", "[sampler][lds][statistics]") {
  // 20 clients of one class each: a batch's label mix is exactly its b_k.
  const std::vector<std::int64_t> sizes(20, 200);
  auto make = [&](const std::string& type, double c) {
    return Harness(type, sizes, 64, type == "lds" ? std::map<std::string, ParamValue>{{"concentration", c}, {"delay_skew", 0.0}}
                                                   : std::map<std::string, ParamValue>{},
                   "constant", {}, 5, 0, 10, true);
  };
  auto ugs_h = make("ugs", 0), lds1_h = make("lds", 1.0), lds_big_h = make("lds", 1000.0);
  const auto ugs = deviation(ugs_h, 30), lds1 = deviation(lds1_h, 30), lds_big = deviation(lds_big_h, 30);
  INFO("ugs " << ugs.mean << " +- " << ugs.standard_error << ", lds c=1 " << lds1.mean << ", lds c=1000 " << lds_big.mean);
  // Within 10% of each other and within 5 standard errors plus that margin.
  CHECK(std::abs(lds1.mean - ugs.mean) < 0.1 * ugs.mean + 5 * std::hypot(ugs.standard_error, lds1.standard_error));
  CHECK(lds_big.mean < 0.5 * ugs.mean);
}

TEST_CASE("lds with uniform shares and delta 0 draws as ugs does", "[sampler][lds][statistics]") {
  // No client is slow, so no gate: the whole batch is a uniform draw from the pool.
  const std::vector<std::int64_t> sizes(20, 200);
  auto ugs_h = Harness("ugs", sizes, 64, {}, "constant", {}, 5, 0, 10, true);
  auto lds_h = Harness("lds", sizes, 64, {{"delay_skew", 0.0}, {"shares", std::string("uniform")}}, "constant", {}, 5, 0,
                       10, true);
  const auto ugs = deviation(ugs_h, 30), lds = deviation(lds_h, 30);
  INFO("ugs " << ugs.mean << " +- " << ugs.standard_error << ", lds uniform " << lds.mean << " +- " << lds.standard_error);
  CHECK(std::abs(lds.mean - ugs.mean) < 5 * std::hypot(ugs.standard_error, lds.standard_error));
  // Uniform shares pace gated clients; with pacing = "defer" there is nothing to pace.
  CHECK_THROWS_WITH(Harness("lds", sizes, 64, {{"shares", std::string("uniform")}, {"pacing", std::string("defer")}}),
                    Catch::Matchers::Contains("needs pacing = \"gate\""));
}

TEST_CASE("lds sums to B in every step but the last", "[sampler][lds]") {
  for (double c : {0.05, 1.0, 50.0}) {
    Harness h("lds", kSkewed, 64, {{"concentration", c}});
    const auto steps = h.epoch(0);
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) CHECK(steps[i].batch_size == 64);
    CHECK(steps.back().batch_size <= 64);
  }
}

TEST_CASE("lds with delta > 0 puts slow clients in fewer steps, spread over the epoch", "[sampler][lds]") {
  const std::vector<std::int64_t> sizes(40, 100);
  const std::map<std::string, ParamValue> stragglers = {{"fraction", 0.1}, {"slowdown", 10.0}, {"latency_s", 0.05}};
  auto steps_with_slow = [&](const std::string& type, std::map<std::string, ParamValue> params, double* slow_used_by_half) {
    Harness h(type, sizes, 64, params, "straggler", stragglers, 2);
    std::int64_t with_slow = 0, slow_total = 0, slow_first_half = 0;
    const auto steps = h.epoch(0);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      bool any = false;
      for (const auto& t : steps[i].takes) {
        if (h.delay->expected(t.client).latency_s > 0.1) {
          any = true;
          slow_total += t.count;
          if (i < steps.size() / 2) slow_first_half += t.count;
        }
      }
      with_slow += any;
    }
    if (slow_used_by_half) *slow_used_by_half = double(slow_first_half) / double(slow_total);
    return with_slow;
  };
  double gate_half = 0, defer_half = 0, uniform_half = 0;
  const auto ugs = steps_with_slow("ugs", {}, nullptr);
  const auto gated = steps_with_slow("lds", {{"delay_skew", 0.5}}, &gate_half);
  const auto deferred = steps_with_slow("lds", {{"delay_skew", 2.0}, {"pacing", std::string("defer")}}, &defer_half);
  const auto uniform = steps_with_slow("lds", {{"delay_skew", 0.5}, {"shares", std::string("uniform")}}, &uniform_half);
  INFO("steps with a slow client: ugs " << ugs << ", lds gate " << gated << ", lds defer " << deferred
                                        << ", lds gate with uniform shares " << uniform);
  CHECK(gated < ugs / 2);
  CHECK(deferred < ugs / 2);
  CHECK(uniform < ugs / 2);
  // Gating keeps the slow clients' data on pace with the epoch; deferring pushes it late.
  INFO("share of slow data used in the first half: gate " << gate_half << ", defer " << defer_half << ", uniform "
                                                          << uniform_half);
  CHECK(gate_half > 0.35);
  CHECK(uniform_half > 0.35);
  CHECK(defer_half < gate_half);
}

TEST_CASE("lds with label histograms offsets the slow clients' label mix with the fast clients'", "[sampler][lds]") {
  // One class per client: a step's label mix is its counts, and the gated slow clients'
  // heavy shares skew the steps they join unless the fast clients make up for them.
  const std::vector<std::int64_t> sizes(40, 100);
  const std::map<std::string, ParamValue> stragglers = {{"fraction", 0.1}, {"slowdown", 10.0}, {"latency_s", 0.05}};
  struct Outcome {
    double mean_deviation = 0;
    std::int64_t steps_with_slow = 0, samples = 0;
  };
  auto run = [&](bool label_aware) {
    Harness h("lds", sizes, 64, {}, "straggler", stragglers, 2, 0, 10, true, label_aware);
    Outcome out;
    const auto steps = h.epoch(0);
    for (const auto& s : steps) {
      out.mean_deviation += s.batch_deviation / double(steps.size());
      out.samples += s.batch_size;
      bool slow = false;
      for (const auto& t : s.takes) slow = slow || h.delay->expected(t.client).latency_s > 0.1;
      out.steps_with_slow += slow;
    }
    return out;
  };
  const auto plain = run(false), balanced = run(true);
  INFO("mean deviation " << plain.mean_deviation << " -> " << balanced.mean_deviation << "; steps with a slow client "
                         << plain.steps_with_slow << " -> " << balanced.steps_with_slow);
  CHECK(balanced.samples == 4000);  // every sample once (the planner also refuses otherwise)
  CHECK(balanced.mean_deviation < 0.7 * plain.mean_deviation);
  // The slow clients keep their pace: about as few steps pay for them.
  CHECK(std::abs(balanced.steps_with_slow - plain.steps_with_slow) <= plain.steps_with_slow / 5 + 1);
}

TEST_CASE("latency estimates fit a real client's observed step times", "[sampler][latency]") {
  psl::LatencyEstimates est(2);
  CHECK_FALSE(est.known(0));
  est.observe(0, 10, 0.5);
  CHECK(est.known(0));
  CHECK(est.expected(0, 40) == Approx(0.5));  // one batch size seen: its mean time
  // seconds = 0.2 + 0.01 * samples, seen at three batch sizes: the fit recovers both parts.
  for (int b : {5, 10, 20, 5, 20}) est.observe(1, b, 0.2 + 0.01 * b);
  CHECK(est.expected(1, 40) == Approx(0.6));
  CHECK(est.expected(1, 0) == Approx(0.2));
}

namespace {
// A sampler plugin author's mistakes: one client per step, a throw at `throw_at`, or the
// same client twice.
class FaultySampler : public Sampler {
 public:
  FaultySampler(int throw_at, bool twice) : throw_at_(throw_at), twice_(twice) {}
  std::vector<Take> next_step(const ClientState&, Rng&) override {
    if (calls_++ == throw_at_) throw std::runtime_error("out of ideas");
    if (twice_) return {{0, 1}, {0, 1}};
    return {{0, 1}};
  }

 private:
  int throw_at_, calls_ = 0;
  bool twice_;
};

std::string planner_error(FaultySampler& sampler) {
  Context ctx;
  ctx.params = test::defaults_for(Kind::Delay, "constant");
  auto delay = test::bundled().make<DelayModel>(Kind::Delay, "constant", ctx);
  Rng rng(1);
  delay->setup(1, rng);
  const std::vector<std::int32_t> labels(10, 0);
  PlannerConfig pc;
  pc.sampler_name = "faulty";
  pc.sampler_library = "/plugins/libfaulty.so";
  StepPlanner planner({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}, labels, sampler, *delay, pc);
  try {
    planner.begin_epoch(0);
    while (!planner.epoch_done()) planner.next();
  } catch (const SamplerError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("whatever a sampler throws names the sampler, its library, the epoch and the step", "[sampler][errors]") {
  FaultySampler throws(2, false), twice(-1, true);
  CHECK(planner_error(throws) == "sampler 'faulty' (/plugins/libfaulty.so), epoch 0, step 2: out of ideas");
  CHECK(planner_error(twice) ==
        "sampler 'faulty' (/plugins/libfaulty.so), epoch 0, step 0: chose client 0 twice in one step");
}
