// `psl sweep`: the grid of a manifest's [sweep] table, run as separate runs under one
// folder, a few at a time here or as a Slurm job array, skipping runs already complete.
#pragma once

#include <string>
#include <vector>

#include "manifest.hpp"

namespace psl {

struct SweepPoint {
  std::string name;                 // folder name, e.g. "sampler.type=ugs,seed=2"
  std::vector<Override> overrides;  // applied to the base manifest with --set
};

// The cartesian product of the [sweep] values, in manifest order (last key fastest).
std::vector<SweepPoint> expand_sweep(const Experiment& experiment);

struct SweepOptions {
  std::string manifest;
  std::string out;
  std::vector<std::string> sets;
  int jobs = 1;
  bool quiet = false;
  std::string launcher = "local";       // local: processes here; slurm: one job array (sweep_slurm.cpp)
  std::vector<std::string> slurm_opts;  // KEY=VALUE, passed to sbatch as --KEY=VALUE
  std::string status_dir;               // psl sweep --status DIR
};

int command_sweep(const SweepOptions& options);

}  // namespace psl
