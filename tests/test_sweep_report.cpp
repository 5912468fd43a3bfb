#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <tinyxml2.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "digest.hpp"
#include "report/aggregate.hpp"
#include "report/report.hpp"
#include "report/svg_plot.hpp"
#include "run_folder.hpp"
#include "support.hpp"
#include "sweep.hpp"
#include "sweep_plan.hpp"
#include "sweep_progress.hpp"
#include "progress.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::string sweep_manifest() {
  return test::small_manifest("max_steps = 12\n", "ugs") + R"(
[sweep]
sampler.type = ["fls", "ugs"]
"training.clients" = [4, 6]
seed = [1, 2]
)";
}

std::vector<std::string> svgs_of(const std::string& html) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = html.find("<svg", at)) != std::string::npos) {
    const auto end = html.find("</svg>", at);
    REQUIRE(end != std::string::npos);
    out.push_back(html.substr(at, end + 6 - at));
    at = end;
  }
  return out;
}

// Replaces a complete run's manifest.toml, with summary.json's checksum to match (so the
// folder still checks out): the run as another psl would have written it.
void rewrite_manifest(const std::filesystem::path& run, const std::string& text) {
  test::write_file(run, "manifest.toml", text);
  auto summary = nlohmann::json::parse(test::read_text(run / "summary.json"));
  summary["manifest_sha256"] = file_sha256(run / "manifest.toml");
  test::write_file(run, "summary.json", summary.dump(2));
}

// The manifest.toml of `run` without `line`: as a psl from before that key existed wrote it.
std::string without_line(const std::filesystem::path& run, const std::string& line) {
  auto manifest = test::read_text(run / "manifest.toml");
  const auto at = manifest.find(line);
  REQUIRE(at != std::string::npos);
  return manifest.erase(at, line.size());
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}
}  // namespace

TEST_CASE("a [sweep] table expands to its grid, last key fastest", "[sweep]") {
  const auto dir = test::temp_dir("sweep-expand");
  const auto ex = test::load(test::write_file(dir, "m.toml", sweep_manifest()));
  const auto points = expand_sweep(ex);
  REQUIRE(points.size() == 8);
  CHECK(points[0].name == "sampler.type=fls,seed=1,training.clients=4");
  CHECK(points[1].name == "sampler.type=fls,seed=1,training.clients=6");
  CHECK(points[7].name == "sampler.type=ugs,seed=2,training.clients=6");
  CHECK(points[7].overrides[0].value == "\"ugs\"");

  const auto bad = test::write_file(dir, "bad.toml", test::small_manifest() + "[sweep]\nseed = 3\n");
  CHECK_THROWS_WITH(test::load(bad), Contains("'sweep.seed' must be a non-empty array"));
}

TEST_CASE("a sweep runs its grid, resumes, and its report matches the runs", "[sweep][report]") {
  const auto dir = test::temp_dir("sweep-run");
  const auto file = test::write_file(dir, "m.toml", sweep_manifest());
  SweepOptions o;
  o.manifest = file.string();
  o.out = (dir / "out").string();
  o.jobs = 2;
  o.quiet = true;
  REQUIRE(command_sweep(o) == 0);
  int runs = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out"))
    if (std::filesystem::exists(e.path() / "summary.json")) ++runs;
  CHECK(runs == 8);
  // Stopped and restarted: completed runs are skipped (their files stay untouched).
  const auto first = dir / "out" / "sampler.type=fls,seed=1,training.clients=4" / "metrics.csv";
  const auto stamp = std::filesystem::last_write_time(first);
  std::filesystem::remove_all(dir / "out" / "sampler.type=ugs,seed=2,training.clients=6");
  REQUIRE(command_sweep(o) == 0);
  CHECK(std::filesystem::last_write_time(first) == stamp);
  CHECK(std::filesystem::exists(dir / "out" / "sampler.type=ugs,seed=2,training.clients=6" / "summary.json"));

  const auto found = report::find_runs({dir / "out"});
  REQUIRE(found.size() == 8);
  const auto groups = report::group_stats(found);
  REQUIRE(groups.size() == 4);  // seeds fold together
  // Each group's mean equals the mean of its runs' summaries.
  for (const auto& g : groups) {
    std::vector<double> acc;
    for (const auto& r : found)
      if (r.group == g.group) acc.push_back(100 * r.summary.test_accuracy.value());
    REQUIRE(acc.size() == 2);
    CHECK(g.accuracy_mean == Approx((acc[0] + acc[1]) / 2));
    CHECK(g.accuracy_std == Approx(std::abs(acc[0] - acc[1]) / std::sqrt(2.0)));
    std::vector<double> f1, class0;
    for (const auto& r : found)
      if (r.group == g.group) f1.push_back(r.summary.macro_f1.value()), class0.push_back(100 * r.summary.per_class_accuracy.at(0));
    CHECK(g.macro_f1_mean == Approx((f1[0] + f1[1]) / 2));
    CHECK(g.class_accuracy_mean.at(0) == Approx((class0[0] + class0[1]) / 2));
  }
  const auto md = report::markdown(found);
  CHECK_THAT(md, Contains("| sampler | K = 4 | K = 6 |"));
  CHECK_THAT(md, Contains("| settings | class 0 | class 1 | class 2 | class 3 | worst class |"));
  for (const auto& g : groups) CHECK_THAT(md, Contains(fmt::format("{:.2f} ± {:.2f}", g.accuracy_mean, g.accuracy_std)));

  // A run that has not finished (a sweep in progress) stays out of the means, and is named.
  auto in_progress = found;
  in_progress[0].summary.status = "running";
  in_progress[0].summary.test_accuracy = 0.01;
  const auto partial_md = report::markdown(in_progress);
  CHECK_THAT(partial_md, Contains("Left out of the tables of means: 1 of 8 runs are not complete"));
  CHECK_THAT(partial_md, Contains(in_progress[0].dir.filename().string() + " (running,"));
  // A failed run is named with its error (a seed that diverged is a result, not a gap).
  auto diverged = found;
  diverged[1].summary.status = "failed";
  diverged[1].summary.error = "the loss is -nan at step 2109: lower training.lr";
  diverged[1].summary.epochs_completed = 4;
  diverged[1].summary.epochs = 30;
  CHECK_THAT(report::markdown(diverged),
             Contains(diverged[1].dir.filename().string() +
                      " (failed, 4 of 30 epochs: the loss is -nan at step 2109: lower training.lr)"));
  const auto alone = report::group_stats(report::complete_runs(in_progress));
  for (const auto& g : alone)
    if (g.group == in_progress[0].group) {
      CHECK(g.runs == 1);
      CHECK(g.accuracy_mean > 1.0);  // the other seed's accuracy, not a mean with 1%
      CHECK_THAT(partial_md, Contains(fmt::format("{:.2f} ± 0.00", g.accuracy_mean)));
    }
  CHECK(report::markdown(found).find("Left out") == std::string::npos);

  // The static page (no charting library): every figure an inline SVG, nothing to fetch or run.
  report::PageOptions static_page;
  static_page.dygraphs_dir = "";
  const auto html = report::html(found, static_page);
  CHECK_THAT(html, Contains("<table id=\"paper-table\">"));
  for (const char* external : {"src=", "href=", "<link", "<script", "url("}) CHECK(html.find(external) == std::string::npos);
  const auto svgs = svgs_of(html);
  REQUIRE(svgs.size() == 7);  // accuracy over steps, samples, time; loss; deviation; trade-off; partition
  for (std::size_t i = 0; i < svgs.size(); ++i) {
    INFO("svg " << i);
    tinyxml2::XMLDocument doc;
    REQUIRE(doc.Parse(svgs[i].c_str()) == tinyxml2::XML_SUCCESS);
    CHECK(std::string(doc.RootElement()->Name()) == "svg");
  }
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(count(svgs[i], "class=\"axes\"") == 1);
    CHECK(count(svgs[i], "class=\"series\"") == 4);  // one per setting
    CHECK(count(svgs[i], "class=\"x-tick\"") >= 2);
  }
  CHECK(count(svgs[0], "class=\"band\"") == 4);  // the band over seeds, per setting
  CHECK(count(svgs[6], "class=\"bar\"") == 4);   // first run: 4 clients

  // The interactive page inlines its library: still nothing to fetch.
  const auto page = report::html(found);
  CHECK_THAT(page, Contains("const PSL_FIGURES = "));
  for (const char* external : {"<script src", "<link", "@import"}) CHECK(page.find(external) == std::string::npos);
}

TEST_CASE("a sweep over types runs each type with its own parameters, and identical points once", "[sweep]") {
  const auto dir = test::temp_dir("sweep-per-type");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest("max_steps = 3\n", "ugs") + R"(
[sampler.lds]
delay_skew = 0.25
[sweep]
sampler.type = ["fls", "lds"]
"sampler.lds.pacing" = ["gate", "defer"]
)");
  SweepOptions o;
  o.manifest = file.string();
  o.out = (dir / "out").string();
  o.quiet = true;
  REQUIRE(command_sweep(o) == 0);
  std::vector<std::string> runs;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out"))
    if (std::filesystem::exists(e.path() / "summary.json")) runs.push_back(e.path().filename().string());
  std::sort(runs.begin(), runs.end());
  // FLS does not read lds's pacing: its two points are one run.
  CHECK(runs == std::vector<std::string>{"sampler.type=fls,sampler.lds.pacing=gate", "sampler.type=lds,sampler.lds.pacing=defer",
                                         "sampler.type=lds,sampler.lds.pacing=gate"});
  const auto lds = test::load(dir / "out" / "sampler.type=lds,sampler.lds.pacing=defer" / "manifest.toml");
  CHECK(lds.sampler.params.get_float("delay_skew") == 0.25);
  CHECK(lds.sampler.params.get_string("pacing") == "defer");
}

namespace {
// metrics.csv's header as a psl before byte counts wrote it: the progress reader needs only
// the step and batch_size columns.
const std::string kProgressMetricsHeader =
    "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
    "straggler_wait_s,deferred,test_accuracy,test_loss\n";
// A run folder with one client per entry of `samples`, all of class 0.
std::filesystem::path progress_run_folder(const std::filesystem::path& dir, const std::string& name,
                                          const std::vector<int>& samples) {
  const auto run = dir / name;
  std::filesystem::create_directories(run);
  std::string partition = "client,samples,class_0\n";
  for (std::size_t c = 0; c < samples.size(); ++c) partition += fmt::format("{},{},{}\n", c, samples[c], samples[c]);
  test::write_file(run, "partition.csv", partition);
  return run;
}
}  // namespace

TEST_CASE("sweep progress counts samples from the running runs' files, not steps", "[sweep][progress]") {
  const auto run = progress_run_folder(test::temp_dir("sweep-progress"), "sampler.type=fls", {60, 40});
  const auto& header = kProgressMetricsHeader;
  // Two epochs of 100 samples: 50 trained, an evaluation row, and a row still being written.
  test::write_file(run, "metrics.csv", header + "0,0,1,1,2.3,30,2,0.1,1,0,0,,\n1,0,2,2,2.2,20,2,0.1,1,0,0,,\n"
                                                "1,0,,,,,,,,,,0.5,1.9\n2,0,3,3,2.1,1");
  SweepProgress p(4, true);
  p.skipped();                        // one run was complete before: not part of the work
  p.started(1, run, 2, 0);
  CHECK(p.fraction_done() == Approx(0.25 / 3));  // a quarter of one run out of three
  p.ended(1);
  CHECK(p.fraction_done() == Approx(1.0 / 3));
  CHECK_THAT(p.status_line(), Contains("sweep: 2/4 runs done (1 complete before; 33% of the other 3's work)"));
  // max_steps ends a run sooner than its samples would.
  CHECK(run_fraction(50, 200, 3, 4) == Approx(0.75));
  CHECK(run_fraction(150, 200, 3, 0) == Approx(0.75));
}

TEST_CASE("sweep progress: a resumed run's earlier epochs do not count toward the ETA, a cut-back file is read again",
          "[sweep][progress]") {
  const auto dir = test::temp_dir("sweep-progress-resumed");
  const auto run = progress_run_folder(dir, "sampler.type=ugs", {100});
  const auto& header = kProgressMetricsHeader;
  const auto rows = [](int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += fmt::format("{},0,1,1,2.3,10,1,0.1,1,0,0,,\n", i);
    return out;
  };
  // One run of one epoch of 100 samples; it resumes from 3 steps of 10 samples, and has 2
  // more rows that its checkpoint did not record.
  test::write_file(run, "metrics.csv", header + rows(5));
  SweepProgress p(1, true);
  p.started(0, run, 1, 0);
  CHECK(p.fraction_done() == Approx(0.5));
  // Nothing trained yet in this sweep: no rate, whatever the 50% already there.
  CHECK_THAT(p.status_line(), Contains("ETA unknown"));
  // The run cuts its file back to its checkpoint's 3 steps, then trains 4 more.
  test::write_file(run, "metrics.csv", header + rows(3));
  CHECK(p.fraction_done() == Approx(0.3));
  CHECK_THAT(p.status_line(), Contains("ETA unknown"));  // done before: 30%, not the 50% first read
  test::write_file(run, "metrics.csv", header + rows(4));
  CHECK_THAT(p.status_line(), !Contains("ETA unknown"));
  test::write_file(run, "metrics.csv", header + rows(7));
  CHECK(p.fraction_done() == Approx(0.7));
  // The rate is that of this process: 60 s from 50% to 70% leaves 30% for 90 s.
  CHECK(remaining_seconds(60, 0.7, 0.5) == Approx(90));
  CHECK_FALSE(remaining_seconds(60, 0.5, 0.5));
  CHECK_FALSE(remaining_seconds(60, 1.0, 0.5));
  // A fresh run (no metrics.csv when it starts) counts from zero.
  const auto fresh = progress_run_folder(dir, "sampler.type=fls", {100});
  SweepProgress q(1, true);
  q.started(0, fresh, 1, 0);
  test::write_file(fresh, "metrics.csv", header + rows(2));
  CHECK(q.fraction_done() == Approx(0.2));
  CHECK_THAT(q.status_line(), !Contains("ETA unknown"));
}

TEST_CASE("a sweep into a folder of complete runs of other settings is refused, not skipped", "[sweep]") {
  const auto dir = test::temp_dir("sweep-reused");
  const auto file = test::write_file(dir, "m.toml", sweep_manifest());
  const auto out = dir / "out";
  const auto sweep = fmt::format("sweep {} --out {} --jobs 2", file.string(), out.string());
  REQUIRE(test::run_psl(sweep + " --quiet").status == 0);
  const auto run = out / "sampler.type=fls,seed=1,training.clients=4";
  const auto stamp = std::filesystem::last_write_time(run / "metrics.csv");

  // The manifest changed, the folder did not: skipping would report lr 0.1's numbers as lr 0.2's.
  const auto changed = test::run_psl(sweep + " --set training.lr=0.2");
  CHECK(changed.status == 2);
  CHECK_THAT(changed.output, Contains(run.string() + " holds a complete run of other settings"));
  CHECK_THAT(changed.output, Contains("('lr = 0.1' there, 'lr = 0.2' now)"));
  CHECK_THAT(changed.output, Contains("nothing was run"));
  CHECK(std::filesystem::last_write_time(run / "metrics.csv") == stamp);

  // A run made before a key existed (its manifest.toml lacks the default a newer psl writes
  // out) is the same run: still skipped.
  const auto older = without_line(run, "lr_schedule = 'constant'\n");
  rewrite_manifest(run, older);
  const auto again = test::run_psl(sweep);
  CHECK(again.status == 0);
  CHECK_THAT(again.output, Contains("sampler.type=fls,seed=1,training.clients=4: already complete, skipped"));
  CHECK(std::filesystem::last_write_time(run / "metrics.csv") == stamp);

  // A key this psl does not know (a plugin's parameter since removed): not a run it can judge.
  rewrite_manifest(run, older + "retired_key = 1\n");
  const auto unknown = test::run_psl(sweep);
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.output, Contains("its manifest.toml does not load with this psl"));
  CHECK_THAT(unknown.output, Contains("retired_key"));
}

TEST_CASE("a sweep keeps the torch threads a manifest sets; only threads = 0 becomes cores / jobs", "[sweep]") {
  const auto dir = test::temp_dir("sweep-threads");
  SweepOptions o;
  o.manifest = test::write_file(dir, "m.toml", sweep_manifest()).string();  // threads = 1
  o.quiet = true;
  const auto threads_of_points = [&] {
    const auto plan = plan_sweep(o, 3);  // 3: as if cores / jobs were 3
    REQUIRE(plan);
    std::set<std::string> lines;
    for (const auto& p : plan->points) {
      std::smatch m;
      REQUIRE(std::regex_search(p.resolved, m, std::regex("\\nthreads = (\\d+)\\n")));
      lines.insert(m[1]);
    }
    return lines;
  };
  CHECK(threads_of_points() == std::set<std::string>{"1"});
  o.sets = {"training.threads=2"};
  CHECK(threads_of_points() == std::set<std::string>{"2"});
  o.sets = {"training.threads=0"};
  CHECK(threads_of_points() == std::set<std::string>{"3"});
}

TEST_CASE("a sweep into a folder that holds an earlier sweep's runs keeps them in sweep.json", "[sweep]") {
  const auto dir = test::temp_dir("sweep-index-merge");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest("max_steps = 2\n") + "[sweep]\nseed = [1]\n");
  const auto out = dir / "out";
  const auto sweep = fmt::format("sweep {} --out {} --quiet", file.string(), out.string());
  REQUIRE(test::run_psl(sweep).status == 0);
  // The same folder, the grid narrowed to another seed: both runs are the folder's.
  REQUIRE(test::run_psl(sweep + " --set 'sweep.seed=[2]'").status == 0);
  const auto status = test::run_psl("sweep --status " + out.string());
  CHECK(status.status == 0);
  CHECK_THAT(status.output, Contains("complete     seed=1\n"));
  CHECK_THAT(status.output, Contains("complete     seed=2\n"));
  CHECK_THAT(status.output, Contains("2 runs: 2 complete"));

  // An earlier run moved away is no longer listed.
  std::filesystem::rename(out / "seed=1", dir / "seed=1");
  REQUIRE(test::run_psl(sweep + " --set 'sweep.seed=[2]'").status == 0);
  CHECK_THAT(test::run_psl("sweep --status " + out.string()).output, Contains("1 runs: 1 complete"));

  // An index that is not one is named, not overwritten on a guess.
  test::write_file(out, "sweep.json", "{\"folder\": ");
  const auto broken = test::run_psl(sweep);
  CHECK(broken.status == 2);
  CHECK_THAT(broken.output, Contains((out / "sweep.json").string() + ": not a sweep index"));
  CHECK(read_file(out / "sweep.json") == "{\"folder\": ");
}

TEST_CASE("a report groups a run of an older psl with the same settings run by a newer one", "[report]") {
  const auto dir = test::temp_dir("report-older-run");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest("max_steps = 6\n") + "[sweep]\nseed = [1, 2]\n");
  REQUIRE(test::run_psl(fmt::format("sweep {} --out {} --quiet", file.string(), (dir / "out").string())).status == 0);
  rewrite_manifest(dir / "out" / "seed=1", without_line(dir / "out" / "seed=1", "lr_schedule = 'constant'\n"));
  const auto runs = report::find_runs({dir / "out"});
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].group == runs[1].group);  // one setting, two seeds
  const auto diff = report::settings_diff(runs);
  REQUIRE(diff.varying.size() == 1);  // no "(not set)" lr_schedule beside the seed
  CHECK(diff.varying[0].first == "seed");
}

TEST_CASE("a report lists settings with numbers in the order of their values", "[report]") {
  // Folder names sort "training.batch_size=16" before "training.batch_size=8" as text.
  const auto dir = test::temp_dir("report-number-order");
  const auto file = test::write_file(dir, "m.toml",
                                     test::small_manifest("max_steps = 2\n") + "[sweep]\ntraining.batch_size = [16, 8]\n");
  REQUIRE(test::run_psl(fmt::format("sweep {} --out {} --quiet", file.string(), (dir / "out").string())).status == 0);
  const auto runs = report::find_runs({dir / "out"});
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].dir.filename() == "training.batch_size=8");
  CHECK(runs[1].dir.filename() == "training.batch_size=16");
  const auto groups = report::group_stats(runs);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].batch_size == 8);
  const auto diff = report::settings_diff(runs);
  REQUIRE(diff.varying.size() == 1);
  CHECK(diff.varying[0].second == std::vector<std::string>{"8", "16"});

  // A run from another folder, whose name says nothing of its settings, is labelled and
  // placed by the settings it differs in, like the sweep's runs.
  const auto single = dir / "single" / "run";
  REQUIRE(test::run_psl(fmt::format("run {} --set training.max_steps=2 --set training.batch_size=12 --out {} --quiet",
                                    file.string(), single.string()))
              .status == 0);
  const auto both = report::find_runs({dir / "out", single});
  REQUIRE(both.size() == 3);
  CHECK(both[0].group == "training.batch_size=8");
  CHECK(both[1].group == "training.batch_size=12");
  CHECK(both[2].group == "training.batch_size=16");

  using report::numbers_by_value_less;
  CHECK(numbers_by_value_less("seed=2,training.clients=128", "seed=10,training.clients=16"));
  CHECK(numbers_by_value_less("training.clients=32", "training.clients=128"));
  CHECK(numbers_by_value_less("training.lr=0.05", "training.lr=0.1"));
  CHECK(numbers_by_value_less("0.05", "0.1"));
  CHECK(numbers_by_value_less("1e-3", "0.01"));
  CHECK(numbers_by_value_less("fls", "fpls"));
  CHECK(numbers_by_value_less("(not set)", "0.5"));
  // An order std::sort can use: no cycle between numbers and text that starts with digits.
  CHECK(numbers_by_value_less("9", "1e1"));
  CHECK(numbers_by_value_less("1f", "1e1"));
  CHECK(numbers_by_value_less("1f", "9"));
  CHECK_FALSE(numbers_by_value_less("training.clients=128", "training.clients=32"));
  CHECK_FALSE(numbers_by_value_less("a=7", "a=7"));
}

TEST_CASE("the interactive page names every line of a figure once", "[report]") {
  // dygraphs finds a line by its label: a run folder named like its setting (a seed-1 run
  // made with psl run --out DIR/sampler.type=ugs), or two folders' runs of one name,
  // must not share a label with another line.
  const auto dir = test::temp_dir("report-labels");
  const auto manifest = test::write_file(dir, "m.toml", test::small_manifest("max_steps = 4\n", "ugs"));
  for (const std::string out : {"a/sampler.type=ugs", "a/sampler.type=ugs,seed=2", "b/sampler.type=ugs,seed=2"}) {
    const auto seed = out.find("seed=2") == std::string::npos ? "" : " --set seed=2";
    REQUIRE(test::run_psl(fmt::format("run {} --quiet{} --out {}", manifest.string(), seed, (dir / out).string())).status == 0);
  }
  report::PageOptions page;
  page.dygraphs_dir = dir / "dygraphs";  // a stand-in for the library: the page is the interactive one
  std::filesystem::create_directories(page.dygraphs_dir);
  test::write_file(page.dygraphs_dir, "dygraph.min.js", "var Dygraph = function() {};\n");
  test::write_file(page.dygraphs_dir, "dygraph.min.css", "\n");
  const auto html = report::html(report::find_runs({dir / "a", dir / "b"}), page);
  const auto begin = html.find("const PSL_FIGURES = ");
  REQUIRE(begin != std::string::npos);
  const auto json_begin = begin + std::string("const PSL_FIGURES = ").size();
  const auto figures = nlohmann::json::parse(html.substr(json_begin, html.find(";\n", json_begin) - json_begin));
  REQUIRE(!figures.empty());
  for (const auto& f : figures) {
    INFO(f.at("labels").dump());
    const std::vector<std::string> labels = f.at("labels");
    const std::set<std::string> unique(labels.begin(), labels.end());
    CHECK(unique.size() == labels.size());
    if (!f.at("scatter").get<bool>()) CHECK(labels.size() == 1 + 1 + 3);  // x, the setting, three runs
  }
}

TEST_CASE("report errors name the folder", "[report]") {
  const auto dir = test::temp_dir("report-empty");
  CHECK_THROWS_WITH(report::find_runs({dir}), Contains("no run folders"));
  CHECK_THROWS_WITH(report::find_runs({dir / "absent"}), Contains("absent: not a folder"));
}

namespace {
// A run in memory: evaluation rows with the given accuracies every 10 steps of 10 samples.
report::Run crafted_run(const std::string& name, const std::vector<double>& accuracies, const std::string& manifest) {
  report::Run r{name, RunSummary{}, {}, manifest, std::string("g")};
  std::int64_t step = 0;
  for (double a : accuracies) {
    for (int i = 0; i < 10; ++i, ++step) {
      MetricsRow t;
      t.step = step;
      t.is_train = true;
      t.batch_size = 10;
      t.loss = 1.0 + double(step % 3);
      t.simulated_time_s = 0.5 * double(step + 1);
      r.metrics.push_back(t);
    }
    MetricsRow e;
    e.step = step - 1;
    e.test_accuracy = a;
    e.simulated_time_s = 0.5 * double(step);
    r.metrics.push_back(e);
  }
  return r;
}
}  // namespace

TEST_CASE("curves: the band is the spread of the seeds' own numbers", "[report]") {
  const std::vector<report::Run> runs = {crafted_run("a", {0.2, 0.5, 0.7}, "seed = 1\n"),
                                         crafted_run("b", {0.4, 0.5, 0.9}, "seed = 2\n"),
                                         crafted_run("c", {0.3, 0.8, 0.8}, "seed = 3\n")};
  const auto std_band = report::curves(runs, {report::Metric::TestAccuracy, report::XAxis::Step, 1, report::Band::Std});
  REQUIRE(std_band.size() == 1);
  const auto& c = std_band[0];
  REQUIRE(c.x == std::vector<double>{10, 20, 30});
  // Point 2: 50, 50, 80 percent -> mean 60, sample std sqrt(300).
  CHECK(c.mean[1] == Approx(60));
  CHECK(c.hi[1] - c.mean[1] == Approx(std::sqrt(300.0)));
  CHECK(c.mean[1] - c.lo[1] == Approx(std::sqrt(300.0)));
  REQUIRE(c.seeds.size() == 3);
  CHECK(c.seeds[2].y == std::vector<double>{30, 80, 80});
  const auto range = report::curves(runs, {report::Metric::TestAccuracy, report::XAxis::Samples, 1, report::Band::MinMax});
  CHECK(range[0].x == std::vector<double>{100, 200, 300});  // samples seen at each evaluation
  CHECK(range[0].lo[2] == Approx(70));
  CHECK(range[0].hi[2] == Approx(90));
  // Per-step metrics: a moving mean over the window, one point per window.
  const auto loss = report::curves(runs, {report::Metric::TrainLoss, report::XAxis::Step, 3, report::Band::Std});
  REQUIRE(loss[0].x.size() == 10);  // 30 steps in windows of 3
  CHECK(loss[0].mean[0] == Approx((1.0 + 2.0 + 3.0) / 3));
  CHECK(loss[0].x[0] == 3);
}

TEST_CASE("accuracy after each epoch: the last evaluation of the epoch, mean over seeds", "[report]") {
  // Run a: evaluations in epochs 0, 0, 1 (the second of epoch 0 counts); run b: epochs 0, 1, 2.
  auto a = crafted_run("a", {0.2, 0.4, 0.6}, "seed = 1\n");
  auto b = crafted_run("b", {0.5, 0.7, 0.9}, "seed = 2\n");
  const auto set_epochs = [](report::Run& r, std::vector<std::int64_t> epochs) {
    for (auto& row : r.metrics)
      if (!row.is_train) row.epoch = epochs.at(0), epochs.erase(epochs.begin());
  };
  set_epochs(a, {0, 0, 1});
  set_epochs(b, {0, 1, 2});
  CHECK(report::accuracy_by_epoch(a) == std::vector<double>{0.4, 0.6});
  const std::vector<report::Run> runs = {a, b};
  const auto rows = report::epoch_table(runs, report::group_stats(runs));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"settings", "epoch 1", "epoch 2", "epoch 3"});
  CHECK(rows[1] == std::vector<std::string>{"g", "45.0", "65.0", "90.0"});  // epoch 3: run b alone
  // Runs of one epoch have no such table (the other tables say it all).
  set_epochs(a, {0, 0, 0});
  CHECK(report::epoch_table({a}, report::group_stats({a})).empty());
}

TEST_CASE("where accuracy levels off: five-epoch means, the plateau over seeds, and the epoch it was reached", "[report]") {
  // Complete runs with one evaluation per epoch, in epoch e.
  const auto run_of = [](const std::string& name, const std::vector<double>& accuracies, const std::string& manifest) {
    auto r = crafted_run(name, accuracies, manifest);
    r.summary.status = "complete";
    std::int64_t epoch = 0;
    for (auto& row : r.metrics)
      if (!row.is_train) row.epoch = epoch++;
    return r;
  };
  // Twelve epochs. Run a rises by 10 points an epoch to 60% and stays; run b is 2 points
  // above run a in every epoch but the 11th, where it dips to 40%.
  std::vector<double> a_acc, b_acc;
  for (int e = 0; e < 12; ++e) a_acc.push_back(std::min(0.6, 0.1 * (e + 1)));
  for (int e = 0; e < 12; ++e) b_acc.push_back(e == 10 ? 0.4 : a_acc[e] + 0.02);
  const auto a = run_of("a", a_acc, "seed = 1\n");
  const std::vector<report::Run> runs = {a, run_of("b", b_acc, "seed = 2\n")};
  const auto rows = report::plateau_table(runs, report::group_stats(runs));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0] == std::vector<std::string>{"settings", "epochs 1-5", "epochs 6-10", "epochs 11-12",
                                            "last 5 epochs (mean ± std over seeds)", "change from the 5 before",
                                            "within 1 point of the last 5 from epoch",
                                            "widest swing of a run, last 10 epochs"});
  // The mean curve, %: 11, 21, 31, 41, 51, then 61 but for 50 at epoch 11.
  CHECK(rows[1][0] == "g");
  CHECK(rows[1][1] == "31.00");
  CHECK(rows[1][2] == "61.00");
  CHECK(rows[1][3] == "55.50");  // the last window has the two epochs there are
  // Epochs 8-12: run a 60, run b (62 x 4 + 40) / 5 = 57.6.
  CHECK(rows[1][4] == fmt::format("58.80 ± {:.2f}", 2.4 / std::sqrt(2.0)));
  CHECK(rows[1][5] == "+9.80");  // 58.8 against epochs 3-7: (31 + 41 + 51 + 61 + 61) / 5 = 49
  CHECK(rows[1][6] == "12");     // the dip to 50 at epoch 11 is more than a point below 58.8
  CHECK(rows[1][7] == "30.0");   // each run gains 30 points over epochs 3-12
  // Without the dip the mean curve is within a point of its plateau from epoch 6 on.
  const auto flat = report::plateau_table({a, a}, report::group_stats({a, a}));
  CHECK(flat[1][4] == "60.00 ± 0.00");
  CHECK(flat[1][5] == "+12.00");
  CHECK(flat[1][6] == "6");
  // A run that falls at its last epoch has not levelled off.
  auto falling = a_acc;
  falling.back() = 0.3;
  const auto c = run_of("c", falling, "seed = 3\n");
  CHECK(report::plateau_table({c}, report::group_stats({c}))[1][6] == "not yet");
  // Runs of fewer than ten epochs have no such table.
  const auto short_run = run_of("s", {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, "seed = 1\n");
  CHECK(report::plateau_table({short_run}, report::group_stats({short_run})).empty());
  // --csv writes it as plateau.csv, and the Markdown report has it, where there is one.
  const auto dir = test::temp_dir("report-plateau-csv");
  report::write_csv(runs, {}, dir / "long");
  CHECK(test::read_text(dir / "long" / "plateau.csv").rfind("settings,epochs 1-5,epochs 6-10,epochs 11-12,", 0) == 0);
  CHECK_THAT(report::markdown(runs), Contains("## Where test accuracy levels off"));
  report::write_csv({short_run}, {}, dir / "short");
  CHECK(std::filesystem::exists(dir / "short" / "epochs.csv"));
  CHECK_FALSE(std::filesystem::exists(dir / "short" / "plateau.csv"));
  CHECK_THAT(report::markdown({short_run}), !Contains("levels off"));
}

TEST_CASE("time to accuracy: the first evaluation at or above the target", "[report]") {
  const auto r = crafted_run("a", {0.2, 0.55, 0.5, 0.9}, "");
  const auto reached = report::time_to_accuracy(r, 0.5);
  REQUIRE(reached);
  CHECK(reached->step == 20);
  CHECK(reached->samples == 200);
  CHECK(reached->simulated_s == Approx(10));
  CHECK_FALSE(report::time_to_accuracy(r, 0.95));
  // In the tables: reached by how many runs, and "not reached" for a run that never does.
  const std::vector<report::Run> runs = {r, crafted_run("b", {0.1, 0.1, 0.1, 0.1}, "")};
  const auto rows = report::run_table(runs, {60.0});
  CHECK(rows[1][rows[0].size() - 2] == "40");
  CHECK(rows[2][rows[0].size() - 2] == "not reached");
}

TEST_CASE("settings: what is the same in every run and what varies", "[report]") {
  const std::vector<report::Run> runs = {
      crafted_run("a", {0.5}, "seed = 1\n[training]\nlr = 0.1\nmax_steps = 50\n[sampler]\ntype = 'ugs'\n"),
      crafted_run("b", {0.5}, "seed = 2\n[training]\nlr = 0.1\nmax_steps = 50\n[sampler]\ntype = 'fls'\n")};
  const auto d = report::settings_diff(runs);
  CHECK(d.fixed == std::vector<std::pair<std::string, std::string>>{{"training.lr", "0.1"}, {"training.max_steps", "50"}});
  REQUIRE(d.varying.size() == 2);
  CHECK(d.varying[0].first == "sampler.type");
  CHECK(d.varying[1] == std::pair<std::string, std::vector<std::string>>{"seed", {"1", "2"}});
}

TEST_CASE("the accuracy table never shows one of several settings as the only one", "[report]") {
  std::vector<report::GroupStats> groups(3);
  for (auto& g : groups) g.protocol = "psl", g.sampler = "ugs", g.clients = 128;
  groups[0].batch_size = 64, groups[0].accuracy_mean = 80;
  groups[1].batch_size = 128, groups[1].accuracy_mean = 70;
  groups[2].batch_size = 128, groups[2].accuracy_mean = 60;  // another lr, say: same sampler, K and B
  auto table = report::paper_table(groups);
  REQUIRE(table.size() == 3);
  CHECK(table[1] == std::vector<std::string>{"ugs, B = 64", "80.00 ± 0.00"});
  CHECK(table[2] == std::vector<std::string>{"ugs, B = 128", "2 settings: see \"Every setting\""});
  groups.pop_back();
  table = report::paper_table(groups);
  CHECK(table[2] == std::vector<std::string>{"ugs, B = 128", "70.00 ± 0.00"});
}

TEST_CASE("runs of several protocols: the accuracy table has a row per protocol and sampler; traffic from bytes", "[report]") {
  std::vector<report::GroupStats> groups(3);
  groups[0].protocol = "psl", groups[0].sampler = "ugs", groups[0].clients = 16, groups[0].accuracy_mean = 80;
  groups[1].protocol = "sl", groups[1].sampler = "ugs", groups[1].clients = 16, groups[1].accuracy_mean = 70;
  groups[2].protocol = "sl", groups[2].sampler = "fls", groups[2].clients = 64, groups[2].accuracy_mean = 60;
  const auto table = report::paper_table(groups);
  REQUIRE(table.size() == 4);
  CHECK(table[0] == std::vector<std::string>{"protocol + sampler", "K = 16", "K = 64"});
  CHECK(table[1] == std::vector<std::string>{"psl + ugs", "80.00 ± 0.00", "-"});
  CHECK(table[2] == std::vector<std::string>{"sl + ugs", "70.00 ± 0.00", "-"});
  CHECK(table[3] == std::vector<std::string>{"sl + fls", "-", "60.00 ± 0.00"});
  groups[1].protocol = groups[2].protocol = "psl";  // one protocol: rows are samplers, as before
  CHECK(report::paper_table(groups)[0][0] == "sampler");

  RunSummary s;
  s.bytes.activations = 3e6, s.bytes.weights_up = 1e6, s.bytes.gradients = 2e6, s.bytes.weights_down = 4e6;
  CHECK(report::traffic_mb(s).up == Approx(4.0));
  CHECK(report::traffic_mb(s).down == Approx(6.0));
  // Clients that came and went: the settings table gains the wait and the online count.
  std::vector<report::Run> none;
  const auto plain = report::group_table(none, groups, {});
  CHECK(std::find(plain[0].begin(), plain[0].end(), "availability wait s") == plain[0].end());
  groups[0].availability_wait_mean = 12.5, groups[0].online_clients_mean = 8;
  const auto waited = report::group_table(none, groups, {});
  REQUIRE(waited[0].back() == "mean online clients");
  CHECK(waited[1][waited[1].size() - 2] == "12.5");
  CHECK(waited[1].back() == "8.0");

  RunSummary old;  // written before byte counts: the activations priced per sample
  old.activation_bytes_per_sample = 1000, old.train_samples = 2000;
  CHECK(report::traffic_mb(old).up == Approx(2.0));
}

TEST_CASE("runs named without settings, given with a trailing '/', stay apart when their settings differ", "[report]") {
  const auto dir = test::temp_dir("report-labels");
  const auto file = test::write_file(dir, "m.toml", test::small_manifest("max_steps = 3\n", "ugs"));
  for (const char* p : {"psl", "sglr"})
    REQUIRE(test::run_psl(fmt::format("run {} --set protocol.type={} --out {} --quiet", file.string(), p,
                                      (dir / p).string())).status == 0);
  const auto found = report::find_runs({dir / "psl" / "", dir / "sglr" / ""});
  REQUIRE(found.size() == 2);
  CHECK(found[0].group != found[1].group);  // averaged together before: both labelled "ugs K=4 B=..."
  CHECK(report::group_stats(found).size() == 2);
  CHECK_THAT(found[1].group, Contains("sglr"));
}
