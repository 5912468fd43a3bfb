#include "sweep.hpp"

#include <fmt/format.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.hpp"
#include "run_folder.hpp"
#include "spawn_psl.hpp"

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

bool complete(const fs::path& run) {
  if (!fs::exists(run / "summary.json")) return false;
  try {
    return read_summary(run).value("status", "") == "complete";
  } catch (const std::runtime_error&) {  // unreadable: run it again
    return false;
  }
}

}  // namespace

int command_sweep(const SweepOptions& options) {
  Registry registry;
  auto base = load_or_report(options.manifest, options.sets, registry);
  if (!base) return 2;
  if (base->sweep.empty()) {
    fmt::print(stderr, "{}: no [sweep] table; add one, e.g. [sweep] seed = [1, 2, 3]\n", options.manifest);
    return 2;
  }
  const auto points = expand_sweep(*base);
  // Every point must load before anything runs.
  for (const auto& p : points) {
    std::vector<std::string> sets = options.sets;
    for (const auto& o : p.overrides) sets.push_back(o.key + "=" + o.value);
    if (!load_or_report(options.manifest, sets, registry)) return 2;
  }
  const fs::path out = options.out.empty() ? fs::path("runs") / (base->name + "-sweep") : fs::path(options.out);
  fs::create_directories(out);
  const int jobs = std::max(1, options.jobs);
  const int threads = std::max(1, int(std::thread::hardware_concurrency()) / jobs);

  nlohmann::json index = nlohmann::json::array();
  for (const auto& p : points) index.push_back({{"name", p.name}, {"folder", p.name}});
  std::ofstream(out / "sweep.json") << index.dump(2) << "\n";

  std::size_t next = 0, done = 0, failed = 0, skipped = 0;
  std::map<pid_t, std::string> running;
  auto report = [&](const std::string& name, const std::string& what) {
    if (!options.quiet) fmt::print(stderr, "[{}/{}] {}: {}\n", done + failed + skipped, points.size(), name, what);
  };
  while (next < points.size() || !running.empty()) {
    while (next < points.size() && int(running.size()) < jobs) {
      const auto& p = points[next++];
      const fs::path dir = out / p.name;
      if (complete(dir)) {
        ++skipped;
        report(p.name, "already complete, skipped");
        continue;
      }
      std::vector<std::string> args = {"psl", "run", options.manifest, "--out", dir.string(), "--quiet",
                                       "--set", fmt::format("training.threads={}", threads)};
      for (const auto& s : options.sets) args.insert(args.end(), {"--set", s});
      for (const auto& o : p.overrides) args.insert(args.end(), {"--set", o.key + "=" + o.value});
      fs::create_directories(dir);
      running[spawn_psl(args, {dir / "log.txt", true})] = p.name;
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ok ? ++done : ++failed;
    report(it->second, ok ? "complete" : fmt::format("FAILED (see {})", (out / it->second / "log.txt").string()));
    running.erase(it);
  }
  fmt::print("sweep {}: {} runs complete, {} skipped as already complete, {} failed; folder {}\n", base->name, done,
             skipped, failed, out.string());
  return failed ? 1 : 0;
}

}  // namespace psl
