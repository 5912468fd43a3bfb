// psl sweep --launcher slurm: the grid as one Slurm job array (one array task per run
// that is not complete), and psl sweep --status: each run's state from its folder and
// from squeue. Slurm does the scheduling; psl writes the array script and reads states.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/process.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>

#include "registry.hpp"
#include "run_folder.hpp"
#include "run_lock.hpp"
#include "run_summary.hpp"
#include "sweep_plan.hpp"

namespace psl {

namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

struct Output {
  int status = -1;
  std::string text;
};

// Runs a program found on PATH; its standard output, and its exit status.
Output run_program(const std::string& program, const std::vector<std::string>& args) {
  const auto path = bp::search_path(program);
  if (path.empty()) throw std::runtime_error(fmt::format("'{}' is not on PATH (is Slurm's client installed?)", program));
  bp::ipstream out;
  bp::child child(path, bp::args(args), bp::std_out > out, bp::std_err > bp::null);
  Output o;
  for (std::string line; std::getline(out, line);) o.text += line + "\n";
  child.wait();
  o.status = child.exit_code();
  return o;
}

// A word as a bash single-quoted string.
std::string quoted(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// What was submitted so far: slurm/jobs.json, [{job, tasks: [point names]}].
fs::path jobs_file(const fs::path& out) { return out / "slurm" / "jobs.json"; }
nlohmann::json read_jobs(const fs::path& out) {
  if (!fs::exists(jobs_file(out))) return nlohmann::json::array();
  return nlohmann::json::parse(read_file(jobs_file(out)));
}

// The points Slurm still holds (pending or running), with their state, from squeue.
std::map<std::string, std::string> queued_points(const fs::path& out) {
  std::map<std::string, std::string> states;
  for (const auto& job : read_jobs(out)) {
    const std::string id = job.at("job");
    const auto q = run_program("squeue", {"-h", "-r", "-j", id, "-o", "%K %T"});
    if (q.status != 0) continue;  // a job Slurm has forgotten has no task left in the queue
    std::istringstream lines(q.text);
    std::size_t task;
    std::string state;
    while (lines >> task >> state)
      if (task < job.at("tasks").size()) states[job.at("tasks")[task]] = state;
  }
  return states;
}

// The CPUs each array task asks for (--slurm-opt cpus-per-task=N): the run's threads.
int cpus_per_task(const std::vector<std::string>& opts) {
  for (const auto& o : opts)
    if (o.rfind("cpus-per-task=", 0) == 0) return std::max(1, std::stoi(o.substr(14)));
  return 1;
}

std::string array_script(const SweepPlan& plan, const fs::path& manifest, const std::vector<std::size_t>& todo,
                         const std::vector<Start>& starts) {
  const std::string psl = fs::absolute(psl_program()).string();
  std::string out = "#!/bin/bash\n# Written by psl sweep --launcher slurm: one array task per run.\nset -eu\n";
  out += "case \"$SLURM_ARRAY_TASK_ID\" in\n";
  for (std::size_t t = 0; t < todo.size(); ++t) {
    const auto& p = plan.points[todo[t]];
    const fs::path dir = fs::absolute(plan.out / p.name);
    std::vector<std::string> args = {"run", "--quiet"};
    const auto rest = run_arguments(p, starts[t], dir, fs::absolute(manifest).string());
    args.insert(args.end(), rest.begin(), rest.end());
    std::vector<std::string> words;
    for (const auto& a : args) words.push_back(quoted(a));
    out += fmt::format("  {}) dir={}; args=({});;\n", t, quoted(dir.string()), fmt::join(words, " "));
  }
  out += "  *) echo \"no run for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2;;\nesac\n";
  // The run's own log sits in its folder, as with the local launcher.
  out += fmt::format("mkdir -p \"$dir\"\nexec {} \"${{args[@]}}\" >> \"$dir/log.txt\" 2>&1\n", quoted(psl));
  return out;
}

}  // namespace

int submit_to_slurm(const SweepOptions& options) {
  const auto plan = plan_sweep(options, cpus_per_task(options.slurm_opts));
  if (!plan) return 2;
  try {
    FolderLock lock(plan->out);  // one submission at a time; the runs lock their own folders
    write_sweep_index(*plan);
    const auto queued = queued_points(plan->out);
    std::vector<std::size_t> todo;
    std::vector<Start> starts;
    std::size_t complete = 0, still_queued = 0;
    for (std::size_t i = 0; i < plan->points.size(); ++i) {
      const auto& p = plan->points[i];
      const bool in_queue = queued.count(p.name) > 0;  // a continued run is complete until its task starts
      if (p.continue_from > 0 && !in_queue) {
        todo.push_back(i);
        starts.push_back(Start::Continue);
      } else if (p.continue_from == 0 && run_complete(plan->out / p.name)) ++complete;
      else if (in_queue) ++still_queued;
      else {
        todo.push_back(i);
        starts.push_back(prepare(plan->out / p.name, p.resolved, options.quiet));
      }
    }
    if (todo.empty()) {
      fmt::print("sweep {}: nothing to submit: {} runs complete, {} still queued in Slurm; folder {}\n", plan->name,
                 complete, still_queued, plan->out.string());
      return 0;
    }
    auto jobs = read_jobs(plan->out);
    fs::create_directories(plan->out / "slurm");
    const fs::path script = fs::absolute(plan->out / "slurm" / fmt::format("array-{}.sh", jobs.size()));
    write_file_atomic(script, array_script(*plan, options.manifest, todo, starts), 0755);
    std::vector<std::string> args = {"--parsable", fmt::format("--array=0-{}", todo.size() - 1),
                                     "--job-name=psl-" + plan->name,
                                     "--output=" + fs::absolute(plan->out / "slurm" / "%A_%a.log").string()};
    for (const auto& o : options.slurm_opts) args.push_back("--" + o);
    args.push_back(script.string());
    const auto submitted = run_program("sbatch", args);
    const std::string id = submitted.text.substr(0, submitted.text.find_first_of(";\n"));
    if (submitted.status != 0 || id.empty())
      throw std::runtime_error(fmt::format("sbatch failed (exit {}): {}", submitted.status, submitted.text));
    nlohmann::json tasks = nlohmann::json::array();
    for (auto i : todo) tasks.push_back(plan->points[i].name);
    jobs.push_back({{"job", id}, {"tasks", tasks}, {"script", script.string()}});
    write_file_atomic(jobs_file(plan->out), jobs.dump(2) + "\n");
    fmt::print("sweep {}: submitted Slurm job {}: {} runs (array 0-{}); {} complete, {} still queued; "
               "psl sweep --status {}\n",
               plan->name, id, todo.size(), todo.size() - 1, complete, still_queued, plan->out.string());
    return 0;
  } catch (const FolderBusy& e) {
    fmt::print(stderr, "psl sweep: refused: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "psl sweep: {}\n", e.what());
    return 1;
  }
}

int sweep_status(const fs::path& dir) {
  try {
    if (!fs::exists(dir / "sweep.json")) throw std::runtime_error(fmt::format("{}: no sweep.json: not a sweep folder", dir.string()));
    const auto index = nlohmann::json::parse(read_file(dir / "sweep.json"));
    std::map<std::string, std::string> queued;
    if (fs::exists(jobs_file(dir))) queued = queued_points(dir);
    std::map<std::string, int> counts;
    for (const auto& entry : index) {
      const std::string name = entry.at("folder");
      const fs::path run = dir / name;
      const bool complete = run_complete(run);
      std::optional<RunSummary> summary;  // of a run not complete: how far it got, and a failure's error
      if (!complete && fs::exists(run / "summary.json")) summary = read_run_summary(run);
      std::string state = "not started";
      if (complete) state = "complete";
      else if (auto q = queued.find(name); q != queued.end()) state = q->second == "PENDING" ? "pending" : "running";
      else if (summary && summary->status == "failed") state = "failed";
      else if (fs::exists(run)) {
        try {
          FolderLock probe(run);  // nobody writes it
          state = fs::exists(run / "log.txt") ? "failed" : "not started";
        } catch (const FolderBusy&) {
          state = "running";
        }
      }
      ++counts[state];
      std::string note = summary && (state == "running" || state == "failed") ? epochs_done_note(*summary) : "";
      if (state == "failed") note += fmt::format("{}see {}", note.empty() ? "" : "; ", (run / "log.txt").string());
      fmt::print("{:<12} {}{}\n", state, name, note.empty() ? "" : "  (" + note + ")");
    }
    std::string total;
    for (const auto& [state, n] : counts) total += fmt::format("{}{} {}", total.empty() ? "" : ", ", n, state);
    fmt::print("{} runs: {}\n", index.size(), total);
    return counts.count("failed") ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "psl sweep --status: {}\n", e.what());
    return 2;
  }
}

}  // namespace psl
