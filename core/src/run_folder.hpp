// The run folder (docs/run-folder.md): files written so that a run killed at any moment
// leaves them readable. Rows are appended and flushed; whole files are written to a
// temporary name and renamed over the old one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace psl {

struct PlannedStep;

void write_file_atomic(const std::filesystem::path& file, const std::string& content);

struct MetricsRow {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  double simulated_time_s = 0;
  double wall_time_s = 0;
  // train rows
  bool is_train = false;
  double loss = 0;          // NaN when not trained (psl sample)
  std::int64_t batch_size = 0;
  std::int64_t active_clients = 0;
  double batch_deviation = 0;
  double step_time_s = 0;
  double straggler_wait_s = 0;
  std::int64_t deferred = 0;
  // eval rows
  double test_accuracy = 0;
  double test_loss = 0;
};

class MetricsLog {
 public:
  static const char* header();
  // Opens DIR/metrics.csv: a new file with its header, or (resume) the old one cut back
  // to `keep_bytes`.
  MetricsLog(const std::filesystem::path& dir, bool resume, std::uintmax_t keep_bytes = 0);
  void append(const MetricsRow& row);
  std::uintmax_t bytes() const;  // everything appended so far, flushed
  // The rows of an existing metrics.csv (for resuming and reports).
  static std::vector<MetricsRow> read(const std::filesystem::path& file);

 private:
  std::filesystem::path file_;
  std::ofstream out_;
};

// DIR/summary.json, parsed; throws std::runtime_error naming the file if it is missing
// or unreadable.
nlohmann::json read_summary(const std::filesystem::path& dir);

// partition.csv: client, samples, then one column per class.
void write_partition_csv(const std::filesystem::path& file, const std::vector<std::vector<std::int64_t>>& histograms);

}  // namespace psl
