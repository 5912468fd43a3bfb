// `psl report`: runs and sweeps compared in one self-contained HTML page (or Markdown).
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
  std::string group;  // the settings the run shares with its other seeds
};

// Every run folder (one with summary.json) at or directly under each path.
std::vector<Run> find_runs(const std::vector<std::filesystem::path>& paths);

struct GroupStats {
  std::string group;
  std::string sampler;
  std::int64_t clients = 0, batch_size = 0;
  std::size_t runs = 0;
  double accuracy_mean = 0, accuracy_std = 0;  // in percent
  double simulated_mean = 0, wall_mean = 0, deviation_mean = 0;
};
std::vector<GroupStats> group_stats(const std::vector<Run>& runs);

std::string markdown(const std::vector<Run>& runs);
std::string html(const std::vector<Run>& runs);

struct ReportOptions {
  std::vector<std::string> paths;
  std::string output;
  std::string format = "html";
};
int command_report(const ReportOptions& options);

}  // namespace psl::report
