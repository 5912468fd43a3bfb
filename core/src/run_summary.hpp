// What a run reports about itself (summary.json, docs/run-folder.md), as a struct:
// run_experiment returns it, and every reader (psl run's result line, sweep, report,
// bench, tests) loads it through read_run_summary. One writer and one reader keep the
// file's keys in one place.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "step_bytes.hpp"

namespace psl {

struct RemotePhaseSeconds {
  double activations = 0, server = 0, client_gradients = 0;
};

struct RunSummary {
  // what ran
  std::string name, status, error, mode;  // status: running | complete | failed; mode: run | sample
  std::string sampler, partitioner, delay, model, dataset, protocol = "psl", client_sync, transport;
  std::int64_t num_clients = 0, batch_size = 0, seed = 0, epochs = 0;
  // how far it got
  std::int64_t epochs_completed = 0, train_steps = 0, train_samples = 0, steps_per_epoch = 0;
  std::optional<double> test_accuracy, test_loss;  // none before the first evaluation, and in psl sample
  std::optional<double> macro_f1;                  // of the last evaluation, as test_accuracy
  std::vector<double> per_class_accuracy;          // of the last evaluation: per class, NaN (null) where no test sample
  // virtual clock and real time
  double simulated_time_s = 0, straggler_wait_s = 0;
  double availability_wait_s = 0;  // simulated seconds waiting for a client with data to come online
  std::int64_t deferred_contributions = 0;
  double wall_time_s = 0, train_wall_time_s = 0, samples_per_s = 0;
  // per-step statistics
  double mean_batch_deviation = 0, p50_batch_deviation = 0, p90_batch_deviation = 0;
  double mean_batch_size = 0, mean_active_clients = 0, mean_online_clients = 0;
  double activation_bytes_per_sample = 0;
  // bytes of tensor payload over the run (TCP: counted as sent; simulated: as the time model prices)
  StepBytes bytes;
  // Where samplers' expected client latencies came from: "delay_model", or "observed"
  // (real clients: a running fit of their step times, latency_estimates.hpp).
  std::string latency_source = "delay_model";
  std::int64_t torch_threads = 0;
  double peak_rss_mib = 0;
  // The heap's high-water mark: what the allocator got from the system, which training
  // processes keep (process_settings.cpp). Without the libraries' pages the resident set
  // holds; like it, it moves between invocations (threads' arenas).
  double peak_heap_mib = 0;
  // TCP runs only
  std::optional<std::int64_t> dropped_clients, lost_samples;
  std::optional<RemotePhaseSeconds> remote_phase_s;
  std::optional<std::uint64_t> frame_bytes_sent, frame_bytes_received;  // whole frames, all traffic
  std::vector<double> observed_step_s;  // per client: mean seconds of its part of a step, as observed
  // what the summary was written with (run_check.cpp)
  std::string manifest_sha256, metrics_sha256;
  std::uintmax_t metrics_bytes = 0;
  bool has_checksums = true;  // false: written by a psl older than 0.2

  bool complete() const { return status == "complete"; }
};

nlohmann::json to_json(const RunSummary& s);
void write_run_summary(const std::filesystem::path& run_dir, const RunSummary& s);
// DIR/summary.json; throws std::runtime_error naming the file if it is missing, is not
// JSON, or lacks a key every summary has.
RunSummary read_run_summary(const std::filesystem::path& run_dir);

// How far a run got, for the lines that list unfinished runs (psl report, psl sweep
// --status): "12 of 30 epochs", with a failed run's error after a colon.
std::string epochs_done_note(const RunSummary& s);

}  // namespace psl
