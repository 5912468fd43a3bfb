// The runs a report reads: every run folder at or under the given paths, checked, with
// its summary, its metrics, and the group of runs it belongs to (same settings, other seeds).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "run_folder.hpp"
#include "run_summary.hpp"

namespace psl::report {

struct Run {
  std::filesystem::path dir;
  RunSummary summary;
  std::vector<MetricsRow> metrics;
  std::string manifest;  // the run's manifest.toml, resolved again by this psl (defaults added since filled in)
  std::string group;     // a label for the settings the run shares with its other seeds
};

// Every run folder (one with summary.json) at or directly under each path, those under
// one path in the order of numbers_by_value_less. Throws std::runtime_error naming the
// folders whose files do not check out.
std::vector<Run> find_runs(const std::vector<std::filesystem::path>& paths);

// Text order with numbers compared by value: "batch_size=64" before "batch_size=128",
// "seed=2" before "seed=10". The order in which a report lists folders and values.
bool numbers_by_value_less(const std::string& a, const std::string& b);

}  // namespace psl::report
