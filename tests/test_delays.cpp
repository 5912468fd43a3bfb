#include <catch2/catch.hpp>

#include <cmath>

#include "sampling_harness.hpp"
#include "time_model.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::unique_ptr<DelayModel> make_delay(const std::string& type, std::map<std::string, ParamValue> params,
                                       const std::filesystem::path& base = {}) {
  Context ctx;
  ctx.base_dir = base;
  ctx.params = test::defaults_for(Kind::Delay, type, std::move(params));
  return test::bundled().make<DelayModel>(Kind::Delay, type, ctx);
}

// Per-client slowdown factors, read back through the compute time (base 1 s per sample).
std::vector<double> factors(DelayModel& d, std::int64_t n) {
  Rng rng(11);
  d.setup(n, rng);
  std::vector<double> out;
  for (std::int64_t k = 0; k < n; ++k) out.push_back(d.expected(k).compute_s_per_sample);
  return out;
}

void check_moments(const std::vector<double>& x, double mean, double var) {
  // Tolerances of 5 standard errors; the variance's from the fourth central moment.
  const double n = double(x.size());
  double m = 0;
  for (double v : x) m += v;
  m /= n;
  double s2 = 0, m4 = 0;
  for (double v : x) s2 += (v - m) * (v - m), m4 += std::pow(v - m, 4);
  s2 /= n - 1;
  m4 /= n;
  INFO("mean " << m << " expected " << mean << "; variance " << s2 << " expected " << var);
  CHECK(std::abs(m - mean) < 5 * std::sqrt(var / n));
  CHECK(std::abs(s2 - var) < 5 * std::sqrt((m4 - s2 * s2) / n));
}
}  // namespace

TEST_CASE("distribution delay models draw factors with their stated mean and variance", "[delay][statistics]") {
  const std::int64_t n = 200000;
  const std::map<std::string, ParamValue> base = {{"compute_s_per_sample", 1.0}};
  auto with = [&](std::map<std::string, ParamValue> more) {
    more.insert(base.begin(), base.end());
    return more;
  };
  SECTION("exponential") {
    auto d = make_delay("exponential", with({{"mean", 2.0}}));
    check_moments(factors(*d, n), 2.0, 4.0);
  }
  SECTION("shifted exponential") {
    auto d = make_delay("shifted_exponential", with({{"shift", 1.0}, {"scale", 0.5}}));
    check_moments(factors(*d, n), 1.5, 0.25);
  }
  SECTION("lognormal") {
    const double s = 0.5;
    auto d = make_delay("lognormal", with({{"sigma", s}}));
    check_moments(factors(*d, n), 1.0, std::exp(s * s) - 1.0);
  }
  SECTION("pareto") {
    const double a = 5.0, xm = 1.0;  // shape 5: finite fourth moment, so the check is sound
    auto d = make_delay("pareto", with({{"shape", a}, {"scale", xm}}));
    check_moments(factors(*d, n), a * xm / (a - 1), xm * xm * a / ((a - 1) * (a - 1) * (a - 2)));
  }
}

TEST_CASE("per-step draws change every step; per-client draws do not", "[delay]") {
  auto d = make_delay("exponential", {{"per_step", true}});
  Rng setup(1);
  d->setup(3, setup);
  Rng a(5), b(6);
  CHECK(d->draw(0, a).compute_s_per_sample != d->draw(0, b).compute_s_per_sample);
  auto fixed = make_delay("exponential", {});
  fixed->setup(3, setup);
  CHECK(fixed->draw(1, a).compute_s_per_sample == fixed->draw(1, b).compute_s_per_sample);
}

TEST_CASE("the straggler model slows exactly round(fraction K) clients by the slowdown", "[delay]") {
  auto d = make_delay("straggler", {{"fraction", 0.1}, {"slowdown", 10.0}, {"compute_s_per_sample", 1.0},
                                    {"latency_s", 0.5}, {"bandwidth_mbps", 8.0}});
  const auto f = factors(*d, 1000);
  CHECK(std::count(f.begin(), f.end(), 10.0) == 100);
  CHECK(std::count(f.begin(), f.end(), 1.0) == 900);
  for (std::int64_t k = 0; k < 1000; ++k) {
    const auto t = d->expected(k);
    if (t.compute_s_per_sample == 10.0) {
      CHECK(t.latency_s == Approx(5.0));
      CHECK(t.uplink_bytes_per_s == Approx(1e5));  // 8 Mbit/s = 1e6 B/s, divided by 10
    }
  }
}

TEST_CASE("step time on a hand-computed case", "[delay][time]") {
  // 10 samples at 0.01 s, latency 0.1 s each way, 1000 B/sample over 1e5 B/s up and down.
  ClientTiming t{0.01, 0.1, 1e5, 1e5};
  CHECK(client_step_time(t, 10, 1000) == Approx(0.1 + 0.2 + 0.1 + 0.1));
  // Slowest 0.5, median of {0.1, 0.2, 0.5} is 0.2; server 64 x 0.001.
  const StepTime st = step_time({0.2, 0.5, 0.1}, 64, 0.001);
  CHECK(st.total_s == Approx(0.5 + 0.064));
  CHECK(st.straggler_wait_s == Approx(0.3));
}

TEST_CASE("trace files: good rows, and malformed files with line numbers", "[delay][trace]") {
  const auto dir = test::temp_dir("trace");
  test::write_file(dir, "good.csv", "# a comment\nclient,compute_s_per_sample,bandwidth_mbps,latency_s\n0,0.001,8,0.2\n1,0.002,16\n");
  auto d = make_delay("trace", {{"file", std::string("good.csv")}, {"latency_s", 0.05}}, dir);
  Rng rng(1);
  d->setup(5, rng);
  CHECK(d->expected(0).latency_s == Approx(0.2));
  CHECK(d->expected(1).latency_s == Approx(0.05));
  CHECK(d->expected(1).uplink_bytes_per_s == Approx(2e6));
  CHECK(d->expected(4).compute_s_per_sample == Approx(0.001));  // row 4 mod 2 = 0

  test::write_file(dir, "header.csv", "id,speed\n0,1\n");
  CHECK_THROWS_WITH(make_delay("trace", {{"file", std::string("header.csv")}}, dir), Contains("header.csv:1: expected the header"));
  test::write_file(dir, "fields.csv", "client,compute_s_per_sample,bandwidth_mbps\n0,0.1\n");
  CHECK_THROWS_WITH(make_delay("trace", {{"file", std::string("fields.csv")}}, dir), Contains("fields.csv:2: expected 3 or 4 fields, found 2"));
  test::write_file(dir, "number.csv", "client,compute_s_per_sample,bandwidth_mbps\n0,0.1,10\n1,fast,10\n");
  CHECK_THROWS_WITH(make_delay("trace", {{"file", std::string("number.csv")}}, dir), Contains("number.csv:3: compute_s_per_sample 'fast'"));
  CHECK_THROWS_WITH(make_delay("trace", {{"file", std::string("absent.csv")}}, dir), Contains("absent.csv: cannot open"));
}

TEST_CASE("availability: on/off periods online for their share of the time, the same whatever the order of questions",
          "[delay][availability]") {
  const std::map<std::string, ParamValue> p = {{"mean_online_s", 2.0}, {"mean_offline_s", 6.0}};
  auto a = make_delay("straggler", p), b = make_delay("straggler", p);
  Rng ra(3), rb(3);
  a->setup(200, ra);
  b->setup(200, rb);
  REQUIRE(a->has_availability());
  CHECK(b->next_online_s(7, 500.0) >= 500.0);  // b answers a late question first
  std::int64_t online = 0, asked = 0;
  for (std::int64_t k = 0; k < 200; ++k)
    for (double t = 0; t < 400; t += 0.5, ++asked) {
      const double next = a->next_online_s(k, t);
      CHECK(next >= t);
      online += next == t;
    }
  CHECK(double(online) / double(asked) == Approx(0.25).margin(0.02));  // on / (on + off)
  for (double t = 0; t < 600; t += 7.3) CHECK(a->next_online_s(7, t) == b->next_online_s(7, t));

  // Without mean_offline_s the model has no availability: everyone online, nothing drawn.
  auto plain = make_delay("straggler", {});
  CHECK_FALSE(plain->has_availability());
  CHECK(plain->next_online_s(3, 12.5) == 12.5);
  // always_online_fraction = 1: never offline.
  auto always = make_delay("constant", {{"mean_offline_s", 5.0}, {"always_online_fraction", 1.0}});
  Rng r(1);
  always->setup(10, r);
  for (double t = 0; t < 100; t += 1) CHECK(always->next_online_s(4, t) == t);
}

TEST_CASE("availability: a trace's windows, and its mistakes named by file and line", "[delay][availability]") {
  const auto dir = test::temp_dir("windows");
  test::write_file(dir, "devices.csv", "client,compute_s_per_sample,bandwidth_mbps\n0,0.001,100\n");
  test::write_file(dir, "w.csv", "client,online_from_s,online_until_s\n2,10,20\n2,30,40\n");
  auto d = make_delay("trace", {{"file", std::string("devices.csv")}, {"availability_file", std::string("w.csv")}}, dir);
  Rng rng(1);
  d->setup(4, rng);
  CHECK(d->has_availability());
  CHECK(d->next_online_s(0, 5.0) == 5.0);  // a client without windows: always online
  CHECK(d->next_online_s(2, 5.0) == 10.0);
  CHECK(d->next_online_s(2, 15.0) == 15.0);
  CHECK(d->next_online_s(2, 20.0) == 30.0);  // a window ends at its until
  CHECK(std::isinf(d->next_online_s(2, 40.0)));
  const auto bad = [&](const std::string& body) {
    test::write_file(dir, "bad.csv", "client,online_from_s,online_until_s\n" + body);
    return make_delay("trace", {{"file", std::string("devices.csv")}, {"availability_file", std::string("bad.csv")}}, dir);
  };
  CHECK_THROWS_WITH(bad("1,5,3\n"), Contains("bad.csv:2: the window ends"));
  CHECK_THROWS_WITH(bad("1,0,10\n1,5,20\n"), Contains("bad.csv:3: client 1's window begins at 5 s, before its window of line 2"));
  CHECK_THROWS_WITH(bad("1,x,3\n"), Contains("bad.csv:2: online_from_s 'x'"));
  CHECK_THROWS_WITH(bad("1.5,0,3\n"), Contains("bad.csv:2: client '1.5' is not a whole number"));
  auto too_far = bad("9,0,3\n");
  CHECK_THROWS_WITH(too_far->setup(4, rng), Contains("bad.csv:2: client 9, but the run has 4 clients"));
}
