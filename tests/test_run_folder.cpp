// The run folder as a small database (docs/run-folder.md): one writer, no run on top of
// another, a checkpoint that is verified before it is trusted, and readers that refuse a
// folder whose files disagree. Each case is a fault a user can cause.
// torch (through coordinator.hpp) defines glog's CHECK; Catch's must come after it.
#include "coordinator.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <fstream>
#include <random>

#include "run_check.hpp"
#include "run_lock.hpp"
#include "support.hpp"

using Catch::Matchers::Contains;
using psl::test::read_text;
using psl::test::run_psl;
namespace fs = std::filesystem;

namespace {

struct Folder {
  fs::path manifest, run;
};

// A run of the small manifest (3 epochs), stopped as if killed after `stop_after` epochs
// (0: run to the end).
Folder make_run(const std::string& name, int stop_after = 0) {
  Folder f;
  const auto dir = psl::test::temp_dir(name);
  auto text = psl::test::small_manifest();
  text.replace(text.find("epochs = 2"), 10, "epochs = 3");
  f.manifest = psl::test::write_file(dir, "m.toml", text);
  f.run = dir / "run";
  psl::RunSettings settings;
  settings.out = f.run;
  settings.quiet = true;
  settings.stop_after_epochs = stop_after;
  psl::run_experiment(psl::test::load(f.manifest), psl::test::bundled(), settings);
  return f;
}

std::string resume(const Folder& f, int expect_status) {
  const auto r = run_psl("run --quiet --resume " + f.run.string());
  INFO(r.output);
  CHECK(r.status == expect_status);
  return r.output;
}

void xor_bytes(const fs::path& file, std::size_t at, std::size_t n) {
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  for (std::size_t i = 0; i < n; ++i) {
    io.seekg(std::streamoff(at + i));
    const char c = char(io.get());
    io.seekp(std::streamoff(at + i));
    io.put(char(c ^ 0x5a));
  }
}

}  // namespace

TEST_CASE("a fresh run into a folder holding a run is refused; --force keeps the old run aside", "[run-folder]") {
  const auto f = make_run("folder-refuse");
  const auto before = read_text(f.run / "summary.json");
  auto r = run_psl("run " + f.manifest.string() + " --quiet --out " + f.run.string() + " --set training.clients=5000");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("holds another run") && Contains("--resume") && Contains("--force") &&
                           Contains("--out"));
  CHECK(read_text(f.run / "summary.json") == before);  // the complete run is untouched
  CHECK(psl::run_folder_problems(f.run).empty());

  r = run_psl("run " + f.manifest.string() + " --quiet --force --out " + f.run.string() + " --set training.epochs=1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  fs::path aside;
  for (const auto& e : fs::directory_iterator(f.run.parent_path()))
    if (e.path().filename().string().rfind("run.replaced-", 0) == 0) aside = e.path();
  REQUIRE(!aside.empty());
  CHECK(read_text(aside / "summary.json") == before);
  CHECK(psl::run_folder_problems(aside).empty());
  CHECK(psl::run_folder_problems(f.run).empty());
  CHECK_THAT(read_text(f.run / "summary.json"), Contains("\"epochs\": 1"));
}

TEST_CASE("a failed resume leaves the folder as it was", "[run-folder]") {
  const auto f = make_run("folder-complete");
  const auto before = read_text(f.run / "summary.json");
  CHECK_THAT(resume(f, 2), Contains("the run is complete; there is nothing to resume"));
  CHECK(read_text(f.run / "summary.json") == before);

  const auto g = make_run("folder-bad-resume", 1);
  const auto summary = read_text(g.run / "summary.json");
  const auto metrics = read_text(g.run / "metrics.csv");
  xor_bytes(g.run / "checkpoint.bin", 4000, 64);
  CHECK_THAT(resume(g, 2), Contains("the checkpoint is damaged"));
  CHECK(read_text(g.run / "summary.json") == summary);
  CHECK(read_text(g.run / "metrics.csv") == metrics);
}

TEST_CASE("a damaged or foreign checkpoint is refused, never resumed from", "[run-folder]") {
  const auto f = make_run("ckpt-flip", 1);
  const auto ckpt = f.run / "checkpoint.bin";
  const auto good = read_text(ckpt);

  SECTION("64 flipped bytes in the model state") {
    xor_bytes(ckpt, good.size() / 2, 64);
    CHECK_THAT(resume(f, 2), Contains("its SHA-256 does not match"));
  }
  SECTION("a flipped byte in the header") {
    xor_bytes(ckpt, 30, 1);
    CHECK_THAT(resume(f, 2), Contains("the checkpoint is damaged"));
  }
  SECTION("random bytes") {
    std::mt19937 rng(3);
    std::string noise(good.size(), '\0');
    for (auto& c : noise) c = char(rng());
    std::ofstream(ckpt, std::ios::binary | std::ios::trunc) << noise;
    const auto out = resume(f, 2);
    CHECK_THAT(out, Contains("does not start as a psl checkpoint"));
    CHECK_THAT(out, !Contains("lower training.lr"));
  }
  SECTION("cut short") {
    fs::resize_file(ckpt, good.size() - 100);
    CHECK_THAT(resume(f, 2), Contains("no checksum at its end"));
  }
  SECTION("the checkpoint of a later epoch beside the metrics of an earlier one") {
    // What a kill between two renames used to leave: state and metrics of different epochs.
    const auto later = make_run("ckpt-later", 2);
    fs::copy_file(later.run / "checkpoint.bin", ckpt, fs::copy_options::overwrite_existing);
    CHECK_THAT(resume(f, 2), Contains("metrics.csv") && Contains("the checkpoint covers"));
  }
  SECTION("intact, it resumes to the end") {
    resume(f, 0);
    CHECK_THAT(read_text(f.run / "summary.json"), Contains("\"status\": \"complete\""));
    CHECK(psl::run_folder_problems(f.run).empty());
  }
}

TEST_CASE("resume refuses an edited manifest and a metrics.csv cut short", "[run-folder]") {
  const auto f = make_run("resume-edited", 1);
  SECTION("clients 6 -> 5 in manifest.toml") {
    auto text = read_text(f.run / "manifest.toml");
    const auto at = text.find("clients = 6");
    REQUIRE(at != std::string::npos);
    text.replace(at, 11, "clients = 5");
    std::ofstream(f.run / "manifest.toml", std::ios::trunc) << text;
    CHECK_THAT(resume(f, 2), Contains("manifest.toml was changed after the run started"));
  }
  SECTION("metrics.csv shorter than the checkpoint recorded") {
    fs::resize_file(f.run / "metrics.csv", fs::file_size(f.run / "metrics.csv") - 10);
    CHECK_THAT(resume(f, 2), Contains("but the checkpoint covers"));
  }
  SECTION("metrics.csv rewritten with the same length") {
    xor_bytes(f.run / "metrics.csv", 200, 1);
    CHECK_THAT(resume(f, 2), Contains("are not the ones the checkpoint recorded"));
  }
}

TEST_CASE("a second writer is refused with the holder's pid", "[run-folder]") {
  const auto f = make_run("second-writer", 1);
  psl::FolderLock held(f.run);  // as a live `psl run` holds it
  const auto out = resume(f, 2);
  CHECK_THAT(out, Contains("is being written by another psl process (pid " + std::to_string(::getpid()) + ")"));
  auto r = run_psl("run " + f.manifest.string() + " --quiet --force --out " + f.run.string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("pid " + std::to_string(::getpid())));
  CHECK(fs::exists(f.run / "checkpoint.bin"));  // --force did not move a folder in use
}

TEST_CASE("psl report refuses run folders whose files disagree", "[run-folder][report]") {
  const auto f = make_run("report-check");
  const auto report = "report --format md " + f.run.string();
  REQUIRE(run_psl(report).status == 0);

  SECTION("a stray row from a second writer") {
    std::ofstream(f.run / "metrics.csv", std::ios::app) << "3,0,0.1,0.1,1.0,32,3,0.1,0.1,0,0,,\n";
  }
  SECTION("NUL bytes in metrics.csv") {
    std::ofstream(f.run / "metrics.csv", std::ios::app) << std::string(4096, '\0');
  }
  SECTION("the manifest of another run") {
    std::ofstream(f.run / "manifest.toml", std::ios::app) << "# edited\n";
  }
  SECTION("a summary whose counts do not match the rows") {
    auto text = read_text(f.run / "summary.json");
    const auto at = text.find("\"train_steps\": 57");
    REQUIRE(at != std::string::npos);
    text.replace(at, 17, "\"train_steps\": 58");
    std::ofstream(f.run / "summary.json", std::ios::trunc) << text;
  }
  const auto r = run_psl(report);
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Contains(f.run.string() + ": ") && Contains("do not check out"));
}

TEST_CASE("summary.json is written and read by one pair of functions", "[run-folder]") {
  const auto dir = psl::test::temp_dir("summary-roundtrip");
  psl::RunSummary s;
  s.name = "x";
  s.status = "failed";
  s.error = "client 3 lost";
  s.mode = "run";
  s.train_steps = 12;
  s.test_accuracy = 0.5;
  s.lost_samples = 7;
  s.remote_phase_s = psl::RemotePhaseSeconds{1.5, 2.5, 3.5};
  s.metrics_bytes = 99;
  psl::write_run_summary(dir, s);
  const auto back = psl::read_run_summary(dir);
  CHECK(psl::to_json(back) == psl::to_json(s));
  CHECK_FALSE(back.test_loss.has_value());  // null stays null
  CHECK_FALSE(back.dropped_clients.has_value());
  std::ofstream(dir / "summary.json", std::ios::trunc) << "{\"name\": \"x\"}";
  CHECK_THROWS_WITH(psl::read_run_summary(dir), Contains("summary.json: not a psl summary: no 'status'"));
}
