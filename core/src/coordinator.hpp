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
#include "run_settings.hpp"
#include "run_summary.hpp"
#include "step_planner.hpp"

namespace psl {

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
