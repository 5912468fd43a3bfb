// A run continued to more epochs (`psl run --resume DIR --epochs N`, and `psl sweep` when
// `epochs` grew) ends with the numbers of a run started with N epochs, is refused where it
// could not, and can be stopped at any point of its start without losing either run.
// torch (through checkpoint users) defines glog's CHECK; Catch's must come after it.
#include "coordinator.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <fstream>

#include "checkpoint.hpp"
#include "digest.hpp"
#include "run_check.hpp"
#include "run_summary.hpp"
#include "support.hpp"

using Catch::Matchers::Contains;
using psl::test::metrics_without_wall_time;
using psl::test::read_text;
using psl::test::run_psl;
namespace fs = std::filesystem;

namespace {

// A run of the small manifest (2 epochs unless `epochs`) into DIR/NAME via the psl program.
fs::path psl_run(const fs::path& manifest, const std::string& name, int epochs = 2, const std::string& extra = "") {
  const auto out = manifest.parent_path() / name;
  const auto r = run_psl(fmt::format("run {} --quiet --out {} --set training.epochs={} {}", manifest.string(),
                                     out.string(), epochs, extra));
  INFO(r.output);
  REQUIRE(r.status == 0);
  return out;
}

psl::test::PslResult continue_run(const fs::path& run, int epochs) {
  return run_psl(fmt::format("run --quiet --resume {} --epochs {}", run.string(), epochs));
}

// The two folders hold the same run: same resolved manifest, same rows, same result.
void check_same_run(const fs::path& a, const fs::path& b) {
  CHECK(read_text(a / "manifest.toml") == read_text(b / "manifest.toml"));
  CHECK(metrics_without_wall_time(a) == metrics_without_wall_time(b));
  const auto sa = psl::read_run_summary(a), sb = psl::read_run_summary(b);
  CHECK(sa.status == "complete");
  CHECK(sb.status == "complete");
  CHECK(sa.epochs == sb.epochs);
  CHECK(sa.test_accuracy == sb.test_accuracy);
  CHECK(sa.simulated_time_s == sb.simulated_time_s);
  CHECK(psl::run_folder_problems(a).empty());
}

// The run's files (not the lock, which holds the last claimer's pid), to show that a
// refusal changed nothing.
std::map<std::string, std::string> folder_bytes(const fs::path& run) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(run))
    if (e.is_regular_file() && e.path().filename() != "psl.lock") files[e.path().filename()] = read_text(e.path());
  return files;
}

}  // namespace

TEST_CASE("a run continued to more epochs ends with the numbers of a run started with them", "[run-folder][extend]") {
  const auto [sampler, extra] = GENERATE(table<std::string, std::string>({
      {"ugs", ""},
      {"fls", ""},
      {"lds", ""},
      {"ugs", "client_sync = \"local\"\nmomentum = 0.9\n"},
      {"ugs", "\n[protocol]\ntype = \"sfl_v1\"\nround_steps = 7\n"},
  }));
  INFO(sampler << " " << extra);
  const auto dir = psl::test::temp_dir("extend-same");
  const auto manifest = psl::test::write_file(dir, "m.toml", psl::test::small_manifest(extra, sampler));
  const auto longer = psl_run(manifest, "three-epochs", 3);

  const auto complete = psl_run(manifest, "two-then-three", 2);
  const auto r = continue_run(complete, 3);
  INFO(r.output);
  REQUIRE(r.status == 0);
  check_same_run(complete, longer);

  // A run stopped before its end continues the same way.
  const auto stopped = psl_run(manifest, "one-of-two-then-three", 2, "--stop-after-epochs 1");
  REQUIRE(psl::read_run_summary(stopped).status == "running");
  REQUIRE(continue_run(stopped, 3).status == 0);
  check_same_run(stopped, longer);
}

TEST_CASE("a run is continued to more epochs only where that gives the longer run's numbers", "[run-folder][extend]") {
  const auto dir = psl::test::temp_dir("extend-refused");
  const auto manifest = psl::test::write_file(dir, "m.toml", psl::test::small_manifest());
  const auto run = psl_run(manifest, "run", 2);
  const auto before = folder_bytes(run);

  const auto plain = run_psl("run --quiet --resume " + run.string());
  CHECK(plain.status == 2);
  CHECK_THAT(plain.output, Contains("the run is complete") && Contains("--epochs N"));
  const auto fewer = continue_run(run, 2);
  CHECK(fewer.status == 2);
  CHECK_THAT(fewer.output, Contains("the run has 2 epochs done; --epochs 2 adds none"));
  const auto no_run = run_psl(fmt::format("run {} --quiet --epochs 3", manifest.string()));
  CHECK(no_run.status == 2);
  CHECK_THAT(no_run.output, Contains("--epochs continues a run (--resume DIR)"));
  CHECK(folder_bytes(run) == before);

  // A cosine schedule's rates depend on the number of epochs: 2 + 1 is not 3.
  const auto cosine = psl_run(manifest, "cosine", 2, "--set training.lr_schedule=cosine");
  const auto cosine_before = folder_bytes(cosine);
  const auto refused = continue_run(cosine, 3);
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Contains("cannot be continued to more epochs") && Contains("'cosine' schedule"));
  CHECK(folder_bytes(cosine) == cosine_before);

  const auto capped = psl_run(manifest, "capped", 2, "--set training.max_steps=30");
  const auto capped_refused = continue_run(capped, 3);
  CHECK(capped_refused.status == 2);
  CHECK_THAT(capped_refused.output, Contains("max_steps = 30"));
}

TEST_CASE("a continuation stopped as it starts leaves a folder that resumes to the same numbers", "[run-folder][extend]") {
  const auto dir = psl::test::temp_dir("extend-stopped");
  const auto manifest = psl::test::write_file(dir, "m.toml", psl::test::small_manifest());
  const auto longer = psl_run(manifest, "three-epochs", 3);
  const auto run = psl_run(manifest, "run", 2);
  const std::string old_manifest = read_text(run / "manifest.toml"), new_manifest = read_text(longer / "manifest.toml");

  // Stopped after it rewrote the checkpoint, before it replaced manifest.toml.
  auto c = psl::read_checkpoint(run);
  c.header.manifest_sha256 = psl::sha256_hex(new_manifest);
  c.header.extends_manifest_sha256 = psl::sha256_hex(old_manifest);
  psl::write_checkpoint(run, c);
  SECTION("before manifest.toml was replaced, the folder holds the 2-epoch run, which continues") {
    CHECK(psl::run_folder_problems(run).empty());
    CHECK(psl::read_run_summary(run).complete());
    CHECK(run_psl("run --quiet --resume " + run.string()).status == 2);  // complete: nothing to resume
    REQUIRE(continue_run(run, 3).status == 0);
    check_same_run(run, longer);
  }
  SECTION("after manifest.toml was replaced, the folder resumes as the 3-epoch run") {
    std::ofstream(run / "manifest.toml", std::ios::trunc) << new_manifest;
    CHECK_FALSE(psl::run_folder_problems(run).empty());  // summary.json is still the 2-epoch run's
    const auto r = run_psl("run --quiet --resume " + run.string());
    INFO(r.output);
    REQUIRE(r.status == 0);
    check_same_run(run, longer);
  }
}

TEST_CASE("a sweep whose epochs grew continues its complete runs", "[sweep][extend]") {
  const auto dir = psl::test::temp_dir("extend-sweep");
  const auto manifest =
      psl::test::write_file(dir, "m.toml", psl::test::small_manifest() + "[sweep]\nsampler.type = [\"ugs\", \"fls\"]\n");
  const auto sweep = fmt::format("sweep {} --jobs 2 --out {}", manifest.string(), (dir / "out").string());
  REQUIRE(run_psl(sweep + " --quiet").status == 0);
  const auto grown = run_psl(sweep + " --set training.epochs=3");
  INFO(grown.output);
  REQUIRE(grown.status == 0);
  CHECK_THAT(grown.output, Contains("sampler.type=fls: continuing its complete run from epoch 2 to 3"));
  CHECK_THAT(grown.output, Contains("sampler.type=ugs: continuing its complete run from epoch 2 to 3"));
  const auto fresh = run_psl(fmt::format("sweep {} --jobs 2 --quiet --set training.epochs=3 --out {}", manifest.string(),
                                         (dir / "fresh").string()));
  REQUIRE(fresh.status == 0);
  for (const char* point : {"sampler.type=ugs", "sampler.type=fls"}) check_same_run(dir / "out" / point, dir / "fresh" / point);
  const auto again = run_psl(sweep + " --set training.epochs=3");
  CHECK_THAT(again.output, Contains("sampler.type=fls: already complete, skipped"));

  // Where continuing would not give the longer run, the sweep refuses as before, and says why.
  const auto cosine = fmt::format("sweep {} --jobs 2 --set training.lr_schedule=cosine --out {}", manifest.string(),
                                  (dir / "cosine").string());
  REQUIRE(run_psl(cosine + " --quiet").status == 0);
  const auto refused = run_psl(cosine + " --set training.epochs=4");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Contains("holds a complete run of other settings") &&
                                 Contains("it cannot be continued to more epochs: its learning rate follows the 'cosine'"));
  CHECK_THAT(refused.output, Contains("nothing was run"));
}
