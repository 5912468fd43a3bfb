// The components a manifest names, built from the registry, and the parts of an
// experiment that the server and each real client compute alike (the data set, the
// partition, the model). `psl client` needs this file and not the coordinator.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "manifest.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/split_model.hpp"
#include "registry.hpp"
#include "step_planner.hpp"

namespace psl {

// The component of `kind` the manifest names, with its parameters; a failure is a
// RunError naming the kind and the plugin.
template <class T>
std::unique_ptr<T> build(const Experiment& experiment, Registry& registry, Kind kind);

// The manifest's partition (checked: every sample once, no client empty). A pure
// function of the manifest and its seed: the server and every real client compute the
// same one, so no sample crosses the network.
Partition make_partition(const Experiment& experiment, Registry& registry, const Dataset& data);

// The network every run starts from: weights drawn from torch's generator, seeded here
// from the manifest's seed and nowhere else, so that a real client builds the same client
// part as the server. A failure is a RunError naming the model.
SplitNetwork initial_network(const Experiment& experiment, const SplitModel& model, const Dataset& data);

// What a real client computes for itself from the manifest: the data set, its own shard
// and the split model.
struct ClientSide {
  std::unique_ptr<Dataset> dataset;
  std::vector<std::int64_t> shard;
  std::unique_ptr<SplitModel> model;
};
ClientSide build_client_side(const Experiment& experiment, Registry& registry, std::int64_t client);

}  // namespace psl
