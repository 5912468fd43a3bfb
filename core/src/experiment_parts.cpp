#include "experiment_parts.hpp"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <torch/utils.h>

#include <algorithm>

#include "psl/api/delay_model.hpp"
#include "psl/api/partitioner.hpp"
#include "psl/api/protocol.hpp"
#include "psl/api/sampler.hpp"
#include "run_settings.hpp"

namespace psl {

namespace {

Context context_for(const Experiment& ex, Kind kind) {
  Context ctx;
  ctx.params = ex.component(kind).params;
  ctx.seed = std::uint64_t(ex.seed);
  ctx.base_dir = ex.file.parent_path();
  ctx.num_clients = ex.training_settings.clients;
  ctx.batch_size = ex.training_settings.batch_size;
  ctx.training = ex.training;
  return ctx;
}

}  // namespace

template <class T>
std::unique_ptr<T> build(const Experiment& ex, Registry& registry, Kind kind) {
  const auto& spec = ex.component(kind);
  try {
    return registry.make<T>(kind, spec.type, context_for(ex, kind));
  } catch (const std::exception& e) {
    throw RunError(fmt::format("{} '{}': {}", to_string(kind), spec.type, e.what()));
  }
}
template std::unique_ptr<Dataset> build(const Experiment&, Registry&, Kind);
template std::unique_ptr<Partitioner> build(const Experiment&, Registry&, Kind);
template std::unique_ptr<SplitModel> build(const Experiment&, Registry&, Kind);
template std::unique_ptr<Sampler> build(const Experiment&, Registry&, Kind);
template std::unique_ptr<DelayModel> build(const Experiment&, Registry&, Kind);
template std::unique_ptr<Protocol> build(const Experiment&, Registry&, Kind);

// The partition is a pure function of the manifest and its seed: the server and every
// real client compute the same one, so no sample crosses the network.
namespace {
void check_partition(const Experiment& ex_, const Partition& partition, std::int64_t n) {
  const auto K = ex_.training_settings.clients;
  if (std::int64_t(partition.size()) != K)
    throw RunError(fmt::format("partitioner '{}' returned {} clients, expected {}", ex_.partitioner.type,
                               partition.size(), K));
  std::vector<char> seen(std::size_t(n), 0);
  for (std::size_t k = 0; k < partition.size(); ++k) {
    if (partition[k].empty())
      throw RunError(fmt::format("partitioner '{}' left client {} without data", ex_.partitioner.type, k));
    for (auto i : partition[k]) {
      if (i < 0 || i >= n || seen[std::size_t(i)]++)
        throw RunError(fmt::format("partitioner '{}' gave sample {} twice or out of range", ex_.partitioner.type, i));
    }
  }
  if (std::count(seen.begin(), seen.end(), 0) != 0)
    throw RunError(fmt::format("partitioner '{}' left {} samples unassigned", ex_.partitioner.type,
                               std::count(seen.begin(), seen.end(), 0)));
}
}  // namespace

Partition make_partition(const Experiment& ex, Registry& registry, const Dataset& data) {
  auto partitioner = build<Partitioner>(ex, registry, Kind::Partitioner);
  Rng rng = make_rng(std::uint64_t(ex.seed), "partition");
  const auto& labels = data.labels(Split::Train);
  Partition partition;
  try {
    partition = partitioner->split(labels, data.num_classes(), ex.training_settings.clients, rng);
  } catch (const std::exception& e) {
    throw RunError(fmt::format("partitioner '{}': {}", ex.partitioner.type, e.what()));
  }
  check_partition(ex, partition, std::int64_t(labels.size()));
  return partition;
}


SplitNetwork initial_network(const Experiment& ex, const SplitModel& model, const Dataset& data) {
  torch::manual_seed(std::uint64_t(stream_seed(std::uint64_t(ex.seed), "model-init")));
  try {
    return model.build(data.sample_shape(), data.num_classes());
  } catch (const c10::Error& e) {
    throw RunError(fmt::format("model '{}': {}", ex.model.type, e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw RunError(fmt::format("model '{}': {}", ex.model.type, e.what()));
  }
}

ClientSide build_client_side(const Experiment& ex, Registry& registry, std::int64_t client) {
  ClientSide side;
  side.dataset = build<Dataset>(ex, registry, Kind::Dataset);
  Partition partition = make_partition(ex, registry, *side.dataset);
  side.shard = std::move(partition.at(std::size_t(client)));
  side.model = build<SplitModel>(ex, registry, Kind::Model);
  return side;
}

}  // namespace psl
