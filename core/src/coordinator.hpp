// The simulated PSL coordinator: builds the components a manifest names, plans every
// step (sampler, data order, virtual clock), trains on the plan (or only plans, for
// `psl sample`), and writes the run folder.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "manifest.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"
#include "registry.hpp"
#include "run_summary.hpp"
#include "step_planner.hpp"

namespace psl {

struct RunSettings {
  std::filesystem::path out;       // the run folder
  bool train = true;               // false: `psl sample`, no model training
  bool resume = false;             // continue the run in `out` from its last checkpoint
  bool force = false;              // a fresh run into a folder holding a run moves that run aside
  bool quiet = false;
  std::filesystem::path schedule;  // `psl sample --schedule`: every (epoch, step, client, count)
  std::int64_t stop_after_epochs = 0;  // tests: stop after this many epochs, as if killed
  // transport.type = "tcp": start the K client processes on loopback (`psl run`), or
  // wait for clients started by hand (`psl serve`).
  bool spawn_clients = true;
  std::string listen;                  // overrides transport.listen (`psl serve --listen`)
};

// A run that cannot go on: bad component settings, a sampler breaking its contract, I/O.
class RunError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The run folder does not allow the run (it holds another run, another process writes
// it, its checkpoint or files do not check out). Nothing in it was changed.
class RunRefused : public RunError {
  using RunError::RunError;
};

// Runs the experiment, writes summary.json and returns what it wrote; throws RunError
// after recording the failure in summary.json (status "failed"), so the folder stays
// readable, or RunRefused, having written nothing.
RunSummary run_experiment(const Experiment& experiment, Registry& registry, const RunSettings& settings);

// What a real client computes for itself from the manifest: the data set, its own shard
// (the partition is a pure function of the manifest and seed) and the split model.
struct ClientSide {
  std::unique_ptr<Dataset> dataset;
  std::vector<std::int64_t> shard;
  std::unique_ptr<SplitModel> model;
};
ClientSide build_client_side(const Experiment& experiment, Registry& registry, std::int64_t client);

// The manifest's partition (checked: every sample once, no client empty).
Partition make_partition(const Experiment& experiment, Registry& registry, const Dataset& data);

}  // namespace psl
