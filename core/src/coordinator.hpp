// The simulated PSL coordinator: builds the components a manifest names, plans every
// step (sampler, data order, virtual clock), trains on the plan (or only plans, for
// `psl sample`), and writes the run folder.
#pragma once

#include <filesystem>
#include <stdexcept>

#include "manifest.hpp"
#include "registry.hpp"

namespace psl {

struct RunSettings {
  std::filesystem::path out;       // the run folder
  bool train = true;               // false: `psl sample`, no model training
  bool resume = false;             // continue the run in `out` from its last checkpoint
  bool quiet = false;
  std::filesystem::path schedule;  // `psl sample --schedule`: every (epoch, step, client, count)
  std::int64_t stop_after_epochs = 0;  // tests: stop after this many epochs, as if killed
};

// A run that cannot go on: bad component settings, a sampler breaking its contract, I/O.
class RunError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs the experiment and writes summary.json; throws RunError after recording the
// failure in summary.json (status "failed"), so the folder stays readable.
void run_experiment(const Experiment& experiment, Registry& registry, const RunSettings& settings);

}  // namespace psl
