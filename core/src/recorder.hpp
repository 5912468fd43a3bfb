// The "record" box of the step loop (docs/step-loop.md): everything a run writes while
// it runs. It owns metrics.csv (and the schedule of `psl sample --schedule`), the
// checkpoints and summary.json, and the running totals summary.json reports.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "executor.hpp"
#include "manifest.hpp"
#include "run_folder.hpp"
#include "run_settings.hpp"
#include "run_summary.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace psl {

// Where a run stands, for the summary and the checkpoint.
struct RunProgress {
  std::int64_t epochs_done = 0;
  std::int64_t steps_per_epoch = 0;  // of the first epoch this process ran
  double wall_s = 0, train_s = 0;    // continued across a resume
};

class Recorder {
 public:
  // Opens the schedule file if one was asked for; writes nothing else yet.
  Recorder(const Experiment& experiment, const RunSettings& settings);
  ~Recorder();
  void set_activation_bytes_per_sample(double bytes) { bytes_per_sample_ = bytes; }

  // A fresh run: manifest.toml, partition.csv and a metrics.csv with its header.
  void start(const std::vector<std::vector<std::int64_t>>& label_histograms);
  // A resumed run (its checkpoint checked against the folder): metrics.csv cut back to
  // the checkpoint, the totals rebuilt from its rows.
  void resume(const CheckpointHeader& checkpoint, const std::string& manifest_sha256);

  // `bytes`: what the step sent (as counted on the socket, or as the step's plan prices it).
  void step(const PlannedStep& step, double loss, const StepBytes& bytes, double wall_s);
  void evaluation(std::int64_t step, std::int64_t epoch, const Evaluation& e, double wall_s);
  // checkpoint.bin for the position given, after syncing the rows it covers.
  void checkpoint(const RunProgress& progress, std::int64_t global_step, double clock_s, const std::string& state);
  // summary.json as the run stands now; the executor (if any) adds what only it knows.
  const RunSummary& write_summary(const std::string& status, const std::string& error, const RunProgress& progress,
                                  const StepExecutor* executor);

  double simulated_s() const;
  std::int64_t samples() const;

 private:
  struct Totals;
  // SHA-256 of metrics.csv as written so far; the checkpoint and the summary of an epoch
  // end share one computation.
  const std::string& metrics_sha256();
  const Experiment& ex_;
  RunSettings settings_;
  double bytes_per_sample_ = 0;
  std::string manifest_sha256_;
  std::unique_ptr<MetricsLog> metrics_;
  std::ofstream schedule_;
  std::unique_ptr<Totals> totals_;
  std::uintmax_t hashed_bytes_ = 0;
  std::string hashed_sha256_;
  RunSummary summary_;
};

}  // namespace psl
