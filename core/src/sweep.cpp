#include "sweep.hpp"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "checkpoint.hpp"
#include "commands.hpp"
#include "run_check.hpp"
#include "run_folder.hpp"
#include "run_extension.hpp"
#include "run_lock.hpp"
#include "run_summary.hpp"
#include "spawn_psl.hpp"
#include "sweep_plan.hpp"
#include "sweep_progress.hpp"

namespace psl {

namespace fs = std::filesystem;

std::vector<SweepPoint> expand_sweep(const Experiment& ex) {
  std::vector<SweepPoint> points = {SweepPoint{}};
  for (const auto& [key, values] : ex.sweep) {
    std::vector<SweepPoint> next;
    for (const auto& p : points)
      for (const auto& v : values) {
        SweepPoint q = p;
        q.overrides.push_back({key, v});
        std::string shown = v;
        if (shown.size() >= 2 && shown.front() == '"') shown = shown.substr(1, shown.size() - 2);
        q.name += (q.name.empty() ? "" : ",") + key + "=" + shown;
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  if (points.size() == 1 && points[0].name.empty()) points[0].name = "base";
  return points;
}

namespace {
// "" when the two texts are the same, otherwise where they first differ.
std::string first_difference(const std::string& there, const std::string& now) {
  std::istringstream had(there), has(now);
  std::string a, b;
  for (int line = 1;; ++line) {
    const bool more_a = bool(std::getline(had, a)), more_b = bool(std::getline(has, b));
    if (!more_a && !more_b) return "";
    if (!more_a || !more_b || a != b)
      return fmt::format("at line {} ('{}' there, '{}' now)", line, more_a ? a : "", more_b ? b : "");
  }
}

// Why a folder's run cannot be resumed by this sweep, for the message that moves it aside.
std::string why_not_resumable(const fs::path& dir, const std::string& manifest_text) {
  if (!fs::exists(checkpoint_file(dir))) return "it has no checkpoint";
  if (!fs::exists(dir / "manifest.toml")) return "it has no manifest.toml";
  const auto where = first_difference(read_file(dir / "manifest.toml"), manifest_text);
  return where.empty() ? "" : "its manifest.toml differs from the one this sweep resolves " + where;
}

// Why the complete run in `dir` is not this point's run ("" when it is): defaults added
// since the run was made do not count as a difference (resolve_again), any other key does.
std::string why_not_this_run(const fs::path& dir, const std::string& point_resolved, Registry& registry) {
  try {
    const auto where = first_difference(resolve_again(dir / "manifest.toml", registry), point_resolved);
    return where.empty() ? "" : "its manifest.toml differs from this sweep's point " + where;
  } catch (const ManifestError& e) {
    const std::string first = e.errors().empty() ? std::string(e.what()) : e.errors().front();
    return "its manifest.toml does not load with this psl: " + first;
  } catch (const std::exception& e) {
    return std::string("its manifest.toml does not load with this psl: ") + e.what();
  }
}
// Whether the complete run in `dir`, which is not `point`'s, is its run with fewer epochs:
// nullopt if not; "" if it can be continued to the point's epochs; otherwise why not.
std::optional<std::string> shorter_run_of(const fs::path& dir, const PlannedPoint& point, Registry& registry) {
  try {
    if (read_run_summary(dir).epochs >= point.epochs) return std::nullopt;
    const auto more = parse_override(fmt::format("training.epochs={}", point.epochs));
    const auto longer = load_experiment(dir / "manifest.toml", {more}, registry);
    if (to_toml(longer) != point.resolved) return std::nullopt;
    return why_not_extendable(longer);
  } catch (const std::exception&) {  // why_not_this_run has said why it does not load
    return std::nullopt;
  }
}

// The error summary.json records when the folder's run failed; "" when it did not fail
// (running, complete, or no readable summary: those are judged and said elsewhere).
std::string recorded_failure(const fs::path& dir) {
  try {
    const auto summary = read_run_summary(dir);
    if (summary.status == "failed") return summary.error.empty() ? "no error recorded" : summary.error;
  } catch (const std::exception&) {
  }
  return "";
}

// Why a run process of the sweep did not end well, for the line that says it failed.
std::string why_run_failed(int wait_status, const fs::path& dir) {
  if (WIFSIGNALED(wait_status)) return fmt::format("killed by signal {}", WTERMSIG(wait_status));
  const auto error = recorded_failure(dir);
  return error.empty() ? fmt::format("exit status {}", WEXITSTATUS(wait_status)) : error;
}
}  // namespace

std::vector<std::string> run_arguments(const PlannedPoint& p, Start start, const fs::path& dir,
                                       const std::string& manifest) {
  if (start == Start::Resume) return {"--resume", dir.string()};
  if (start == Start::Continue) return {"--resume", dir.string(), "--epochs", std::to_string(p.epochs)};
  std::vector<std::string> args = {manifest, "--out", dir.string()};
  for (const auto& s : p.sets) args.insert(args.end(), {"--set", s});
  return args;
}

// How an unfinished point starts: resumed if its folder holds a checkpoint of the same
// resolved manifest, otherwise afresh, with whatever the folder held moved aside and the
// reason said (a newer psl that fills in new defaults changes the resolved manifest).
Start prepare(const fs::path& dir, const std::string& manifest_text, bool quiet) {
  if (!holds_run(dir)) return Start::Fresh;
  // A run that failed is run again: said with its error, since a deterministic failure
  // (a diverging loss) comes back at the same step.
  const std::string failure = recorded_failure(dir);
  const std::string state = failure.empty() ? "unfinished" : "failed before (" + failure + ")";
  const std::string why = why_not_resumable(dir, manifest_text);
  if (why.empty()) {
    if (!quiet && !failure.empty()) fmt::print(stderr, "{}: {}; resuming it\n", dir.string(), state);
    return Start::Resume;
  }
  fs::path aside;
  {
    FolderLock lock(dir);  // refuses if a run still writes it
    aside = move_aside(dir);
  }
  if (!quiet) fmt::print(stderr, "{}: {} and not resumable: {}; kept as {}\n", dir.string(), state, why, aside.string());
  return Start::Fresh;
}

namespace {
struct Child {
  std::size_t point;
  Start start;
};
}  // namespace

std::optional<SweepPlan> plan_sweep(const SweepOptions& options, int threads) {
  Registry registry;
  auto base = load_or_report(options.manifest, options.sets, registry);
  if (!base) return std::nullopt;
  if (base->sweep.empty()) {
    fmt::print(stderr, "{}: no [sweep] table; add one, e.g. [sweep] seed = [1, 2, 3]\n", options.manifest);
    return std::nullopt;
  }
  SweepPlan plan;
  plan.name = base->name;
  plan.out = options.out.empty() ? fs::path("runs") / (base->name + "-sweep") : fs::path(options.out);
  // Every point must load before anything runs; its resolved manifest tells whether an
  // unfinished folder can be resumed. Points that resolve to the same run (they differ
  // only in a [KIND.TYPE] key of a type they do not use) run once, under the first name.
  std::map<std::string, std::string> first;
  std::vector<std::string> foreign;  // complete runs in the folder that are not their point's
  for (const auto& p : expand_sweep(*base)) {
    PlannedPoint point;
    point.name = p.name;
    // threads = 0 means all cores, which under `jobs` runs at a time is `threads` each;
    // a count the manifest or a --set gives is the user's and is kept.
    point.sets = options.sets;
    if (base->training_settings.threads == 0) point.sets.push_back(fmt::format("training.threads={}", threads));
    for (const auto& o : p.overrides) point.sets.push_back(o.key + "=" + o.value);
    auto ex = load_or_report(options.manifest, point.sets, registry);
    if (!ex) return std::nullopt;
    point.resolved = to_toml(*ex);
    point.epochs = ex->training_settings.epochs;
    point.max_steps = ex->training_settings.max_steps;
    const auto [it, fresh] = first.emplace(point.resolved, point.name);
    if (!fresh) {
      if (!options.quiet) fmt::print(stderr, "{} is the same run as {}: run once\n", point.name, it->second);
      continue;
    }
    // A complete run is skipped, so it must be this point's: a folder reused after the
    // manifest changed would otherwise report the old settings' numbers as the new ones.
    // The same run with fewer epochs is continued instead (a sweep whose epochs grew).
    const fs::path dir = plan.out / point.name;
    if (run_complete(dir))
      if (const auto why = why_not_this_run(dir, point.resolved, registry); !why.empty()) {
        const auto shorter = shorter_run_of(dir, point, registry);
        if (shorter && shorter->empty()) point.continue_from = read_run_summary(dir).epochs;
        else
          foreign.push_back(fmt::format("{} holds a complete run of other settings: {}{}", dir.string(), why,
                                        shorter ? "; it cannot be continued to more epochs: " + *shorter : ""));
      }
    plan.points.push_back(std::move(point));
  }
  if (!foreign.empty()) {
    for (const auto& line : foreign) fmt::print(stderr, "psl sweep: refused: {}\n", line);
    fmt::print(stderr, "psl sweep: nothing was run; sweep into another folder (--out DIR), or move those runs away\n");
    return std::nullopt;
  }
  return plan;
}

namespace {
// The entries of an earlier sweep.json whose folders are still there and not `planned`.
nlohmann::json earlier_entries(const fs::path& out, const std::set<std::string>& planned) {
  nlohmann::json kept = nlohmann::json::array();
  const fs::path file = out / "sweep.json";
  if (!fs::exists(file)) return kept;
  try {
    for (const auto& entry : nlohmann::json::parse(read_file(file))) {
      const std::string folder = entry.at("folder");
      if (!planned.count(folder) && fs::exists(out / folder)) kept.push_back(entry);
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not a sweep index ({}); move it away, psl sweep writes a new one", file.string(), e.what()));
  }
  return kept;
}
}  // namespace

// A sweep into a folder another sweep filled (the grid narrowed with --set) adds its
// points to the index, so that psl sweep --status still lists the earlier runs.
void write_sweep_index(const SweepPlan& plan) {
  std::set<std::string> planned;
  for (const auto& p : plan.points) planned.insert(p.name);
  nlohmann::json index = earlier_entries(plan.out, planned);
  for (const auto& p : plan.points) index.push_back({{"name", p.name}, {"folder", p.name}});
  write_file_atomic(plan.out / "sweep.json", index.dump(2) + "\n");
}

int command_sweep(const SweepOptions& options) {
  if (!options.status_dir.empty()) return sweep_status(options.status_dir);
  if (options.manifest.empty()) {
    fmt::print(stderr, "psl sweep: a manifest is needed (or --status DIR)\n");
    return 2;
  }
  if (options.launcher == "slurm") return submit_to_slurm(options);
  const int jobs = std::max(1, options.jobs);
  const int threads = std::max(1, int(std::thread::hardware_concurrency()) / jobs);
  const auto plan = plan_sweep(options, threads);
  if (!plan) return 2;
  const auto& points = plan->points;
  const fs::path& out = plan->out;
  std::unique_ptr<FolderLock> lock;
  try {
    lock = std::make_unique<FolderLock>(out);  // one sweep per folder
  } catch (const FolderBusy& e) {
    fmt::print(stderr, "psl sweep: refused: {}\n", e.what());
    return 2;
  }
  try {
    write_sweep_index(*plan);
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "psl sweep: refused: {}\n", e.what());
    return 2;
  }

  std::size_t next = 0, done = 0, failed = 0, skipped = 0;
  std::deque<std::size_t> retry_fresh;  // resumes the checkpoint refused
  std::map<pid_t, Child> running;
  SweepProgress progress(points.size(), options.quiet);
  auto report = [&](const std::string& name, const std::string& what) {
    if (!options.quiet) fmt::print(stderr, "[{}/{}] {}: {}\n", done + failed + skipped, points.size(), name, what);
  };
  auto launch = [&](std::size_t i, Start start) {
    const fs::path dir = out / points[i].name;
    std::vector<std::string> args = {"psl", "run", "--quiet", "--exit-with-parent", std::to_string(::getpid())};
    const auto rest = run_arguments(points[i], start, dir, options.manifest);
    args.insert(args.end(), rest.begin(), rest.end());
    fs::create_directories(dir);
    progress.started(i, dir, points[i].epochs, points[i].max_steps);
    running[spawn_psl(args, {dir / "log.txt", true, start != Start::Fresh})] = {i, start};
    if (start == Start::Resume) report(points[i].name, "resuming from its checkpoint");
    if (start == Start::Continue)
      report(points[i].name, fmt::format("continuing its complete run from epoch {} to {}", points[i].continue_from,
                                         points[i].epochs));
  };
  while (next < points.size() || !retry_fresh.empty() || !running.empty()) {
    while (int(running.size()) < jobs && (!retry_fresh.empty() || next < points.size())) {
      if (!retry_fresh.empty()) {
        const auto i = retry_fresh.front();
        retry_fresh.pop_front();
        launch(i, Start::Fresh);
        continue;
      }
      const std::size_t i = next++;
      const fs::path dir = out / points[i].name;
      if (points[i].continue_from > 0) {
        launch(i, Start::Continue);
        continue;
      }
      if (run_complete(dir)) {
        ++skipped;
        progress.skipped();
        report(points[i].name, "already complete, skipped");
        continue;
      }
      try {
        launch(i, prepare(dir, points[i].resolved, options.quiet));
      } catch (const FolderBusy& e) {
        ++failed;
        progress.ended(i);
        report(points[i].name, fmt::format("FAILED: {}", e.what()));
      }
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {  // all still running
      progress.tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const auto [i, start] = it->second;
    running.erase(it);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const bool refused = WIFEXITED(status) && WEXITSTATUS(status) == 2;
    const fs::path dir = out / points[i].name;
    if (!ok && refused && start != Start::Fresh) {
      // The checkpoint did not check out (see log.txt): start that point again.
      const auto aside = move_aside(dir);
      report(points[i].name, fmt::format("could not {} (see {}); starting again",
                                         start == Start::Resume ? "resume" : "continue", (aside / "log.txt").string()));
      retry_fresh.push_back(i);
      continue;
    }
    ok ? ++done : ++failed;
    progress.ended(i);
    report(points[i].name, ok ? "complete"
                              : fmt::format("FAILED: {} (see {})", why_run_failed(status, dir), (dir / "log.txt").string()));
  }
  fmt::print("sweep {}: {} runs complete, {} skipped as already complete, {} failed; folder {}\n", plan->name, done,
             skipped, failed, out.string());
  return failed ? 1 : 0;
}

}  // namespace psl
