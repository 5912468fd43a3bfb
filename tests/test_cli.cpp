// The psl program as a user runs it: exit statuses and what it prints.
#include <catch2/catch.hpp>

#include "support.hpp"

using Catch::Matchers::Contains;

using psl::test::run_psl;

TEST_CASE("psl validate: 0 and the resolved manifest, or 2 and every error", "[cli]") {
  const auto dir = psl::test::temp_dir("cli-validate");
  const auto good = psl::test::write_file(dir, "good.toml", psl::test::small_manifest());
  auto r = run_psl("validate " + good.string());
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Contains("[training]"));
  CHECK_THAT(r.output, Contains("client_sync = 'shared'"));

  const auto bad = psl::test::write_file(dir, "bad.toml", "name = 1\n[data]\ntype = \"synthetic\"\n[sampler]\ntype = \"ugz\"\n");
  r = run_psl("validate " + bad.string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains(bad.string() + ":1:8: 'name' must be a string"));
  CHECK_THAT(r.output, Contains(bad.string() + ":5:8: unknown sampler 'ugz' (did you mean 'ugs'?)"));
  CHECK_THAT(r.output, Contains("2 errors"));

  r = run_psl("validate " + good.string() + " --set training.batch_size=-3");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("--set training.batch_size: 'training.batch_size' = -3 is out of range"));

  // A rule between two parameters, which the plugin's factory checks.
  r = run_psl("validate " + good.string() +
              " --set sampler.type=lds --set sampler.shares=uniform --set sampler.pacing=defer");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains(good.string() + ": sampler 'lds': shares = \"uniform\" needs pacing = \"gate\""));
}

TEST_CASE("psl plugins prints every component's parameters from its spec", "[cli]") {
  const auto r = run_psl("plugins sampler");
  CHECK(r.status == 0);
  for (const char* name : {"fls", "fpls", "ugs", "lds", "random_clients"}) CHECK_THAT(r.output, Contains(std::string("  ") + name + "  "));
  CHECK_THAT(r.output, Contains("concentration        float (default 1.0, range [1e-06, inf])"));
  CHECK_THAT(r.output, Contains("pacing               string (default \"gate\", one of gate | defer)"));
  CHECK(run_psl("plugins nonsense").status == 2);
  CHECK_THAT(run_psl("--version").output, Contains("psl 0.1.0"));
}

TEST_CASE("psl run and psl sample write a run folder; a bad run exits 1", "[cli]") {
  const auto dir = psl::test::temp_dir("cli-run");
  const auto m = psl::test::write_file(dir, "m.toml", psl::test::small_manifest("max_steps = 5\n"));
  auto r = run_psl("run " + m.string() + " --out " + (dir / "run").string() + " --quiet");
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Contains("small: test accuracy"));
  r = run_psl("sample " + m.string() + " --out " + (dir / "sample").string() + " --quiet --schedule " + (dir / "s.csv").string());
  CHECK(r.status == 0);
  CHECK_THAT(psl::test::read_text(dir / "s.csv"), Contains("epoch,step,client,count\n0,0,"));
  r = run_psl("run " + m.string() + " --out " + (dir / "fail").string() + " --quiet --set training.clients=5000");
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Contains("psl: run failed: partitioner 'extended_dirichlet'"));
  CHECK_THAT(psl::test::read_text(dir / "fail" / "summary.json"), Contains("\"status\": \"failed\""));
}
