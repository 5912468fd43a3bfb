// The run folder (docs/run-folder.md): files written so that a run killed at any moment
// leaves them readable. Rows are appended and flushed; whole files are written to a
// temporary name, synced to disk and renamed over the old one.
#pragma once

#include <cstdint>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "step_bytes.hpp"

namespace psl {

struct PlannedStep;

// Writes NAME.tmp (created with `mode`, so a secret is never readable by others, even
// briefly), syncs it, renames it over `file` and syncs the folder: after a crash the file
// holds either its old or its new content, whole.
void write_file_atomic(const std::filesystem::path& file, const std::string& content, unsigned mode = 0644);

// The whole content of `file`; throws std::runtime_error naming it if it cannot be read.
std::string read_file(const std::filesystem::path& file);

// True if DIR holds (part of) a run: a manifest, metrics, summary or checkpoint.
bool holds_run(const std::filesystem::path& dir);

// Renames DIR to DIR.replaced-YYYYmmdd-HHMMSS (plus -N if taken) and returns the new name:
// `psl run --force` and `psl sweep` keep an old run instead of deleting it.
std::filesystem::path move_aside(const std::filesystem::path& dir);

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
  StepBytes bytes;          // as counted on the socket (TCP) or by the time model (simulated)
  std::int64_t online_clients = 0;   // clients online during the step (0 in files before availability)
  double availability_wait_s = 0;    // waited before the step for a client to come online
  // eval rows
  double test_accuracy = 0;
  double test_loss = 0;
  double test_macro_f1 = NAN;               // NaN in files written before psl 0.2
  std::vector<double> test_class_accuracy;  // per class: the share of its test samples classified right
};

class MetricsLog {
 public:
  static const char* header();
  static const char* header_before_availability();  // before the availability columns: still read
  static const char* header_before_bytes();  // before the byte columns: still read
  static const char* header_before_f1();  // what psl wrote before the per-class columns: still read
  // Opens DIR/metrics.csv: a new file with its header, or (resume) the old one cut back
  // to `keep_bytes` (which it must hold).
  MetricsLog(const std::filesystem::path& dir, bool resume, std::uintmax_t keep_bytes = 0);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void append(const MetricsRow& row);  // one write(2) per row: a kill leaves whole rows
  void sync();                         // on disk before a checkpoint names its length
  std::uintmax_t bytes() const { return bytes_; }  // everything appended so far
  const std::filesystem::path& file() const { return file_; }
  // The rows of an existing metrics.csv (for resuming and reports).
  static std::vector<MetricsRow> read(const std::filesystem::path& file);

 private:
  void append_text(const std::string& text);
  std::filesystem::path file_;
  int fd_ = -1;
  std::uintmax_t bytes_ = 0;
};

// partition.csv: client, samples, then one column per class.
void write_partition_csv(const std::filesystem::path& file, const std::vector<std::vector<std::int64_t>>& histograms);
// Its per-client label histograms back (empty if the file is not there yet).
std::vector<std::vector<std::int64_t>> read_partition_csv(const std::filesystem::path& file);

}  // namespace psl
