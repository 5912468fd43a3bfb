// What both sweep launchers share (sweep.cpp runs points as local processes,
// sweep_slurm.cpp as one Slurm job array): the grid validated and resolved, and how a
// point's folder is judged and prepared.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "run_check.hpp"
#include "sweep.hpp"

namespace psl {

struct PlannedPoint {
  std::string name;               // the run folder's name
  std::vector<std::string> sets;  // its --set overrides of the sweep's manifest
  std::string resolved;           // its resolved manifest
  std::int64_t epochs = 1, max_steps = 0;
  // Epochs of the complete run its folder holds, which is this point's run with fewer
  // epochs: it is continued to `epochs` (run_extension.hpp). 0: none.
  std::int64_t continue_from = 0;
};

struct SweepPlan {
  std::string name;  // the manifest's
  std::filesystem::path out;
  std::vector<PlannedPoint> points;  // grid points that resolve to the same run appear once
};

// Every point loaded and checked (errors printed); a run whose manifest leaves
// training.threads at 0 (all cores) gets `threads` torch threads.
std::optional<SweepPlan> plan_sweep(const SweepOptions& options, int threads);
// out/sweep.json: the points, after those an earlier sweep into `out` left there, for
// psl sweep --status; throws if the file there is not an index.
void write_sweep_index(const SweepPlan& plan);

enum class Start { Fresh, Resume, Continue };
// How an unfinished point starts: resumed if its folder holds a checkpoint of the same
// resolved manifest, otherwise afresh, with whatever the folder held moved aside.
Start prepare(const std::filesystem::path& dir, const std::string& manifest_text, bool quiet);

// What follows `psl run --quiet` to start point `p` in `dir` as `start` says (the
// sweep's `manifest` for a fresh start).
std::vector<std::string> run_arguments(const PlannedPoint& p, Start start, const std::filesystem::path& dir,
                                       const std::string& manifest);

int submit_to_slurm(const SweepOptions& options);
int sweep_status(const std::filesystem::path& dir);

}  // namespace psl
