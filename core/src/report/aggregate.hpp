// What a report computes from runs: per-group statistics over seeds, curves with a band
// over seeds, time to a target accuracy (which settings runs share: report/settings.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/runs.hpp"
#include "report/settings.hpp"

namespace psl::report {

double mean(const std::vector<double>& v);
double stddev(const std::vector<double>& v);  // sample standard deviation (n - 1); 0 for one value

struct GroupStats {
  std::string group;
  std::string sampler, protocol;
  std::int64_t clients = 0, batch_size = 0;
  std::size_t runs = 0;
  double accuracy_mean = 0, accuracy_std = 0;  // in percent
  double simulated_mean = 0, wall_mean = 0, deviation_mean = 0;
  double up_mb_mean = 0, down_mb_mean = 0;  // bytes_up and bytes_down of summary.json, MB
  double availability_wait_mean = 0, online_clients_mean = 0;  // clients that come and go
  double macro_f1_mean = NAN;
  std::vector<double> class_accuracy_mean;  // per class, percent (runs without it left out)
};
std::vector<GroupStats> group_stats(const std::vector<Run>& runs);

// The runs the tables of means are made of: the complete ones. A run still running, or
// one that failed, would enter them with the numbers of its last evaluation, mid-training.
std::vector<Run> complete_runs(const std::vector<Run>& runs);
// Empty when every run is complete; otherwise a sentence naming the runs the tables of
// means leave out, with their status, how far they got and, for a failed run, its error.
std::string left_out_of_means(const std::vector<Run>& runs);

// A run's traffic up and down in MB: summary.json's bytes_up and bytes_down; for runs of
// a psl before byte counts, each trained sample's activations up and their gradient
// down (what activation_bytes_per_sample prices).
struct TrafficMb {
  double up = 0, down = 0;
};
TrafficMb traffic_mb(const RunSummary& summary);

enum class Metric { TestAccuracy, TrainLoss, BatchDeviation };
enum class XAxis { Step, Samples, SimulatedTime };
enum class Band { Std, MinMax };  // mean ± one standard deviation, or the range over seeds

struct CurveSpec {
  Metric metric = Metric::TestAccuracy;
  XAxis x = XAxis::Step;
  std::size_t smooth = 1;  // per-step metrics: moving mean over this many steps, one point per window
  Band band = Band::Std;
};

struct SeedLine {
  std::string run;  // the run folder's name
  std::vector<double> x, y;
};
struct Curve {
  std::string group;
  std::vector<double> x, mean, lo, hi;  // x: the mean over the runs at that point
  std::vector<SeedLine> seeds;
};
// One curve per group: point i is the runs' i-th point (evaluation, or smoothing
// window), averaged over the runs that have it.
std::vector<Curve> curves(const std::vector<Run>& runs, const CurveSpec& spec);
// The window that gives about `points` points per run for per-step metrics.
std::size_t smoothing_window(const std::vector<Run>& runs, std::size_t points = 100);

// Where a run's test accuracy first reaches `target` (0..1).
struct Reached {
  std::int64_t step = 0, samples = 0;
  double simulated_s = 0, wall_s = 0;
};
std::optional<Reached> time_to_accuracy(const Run& run, double target);

// A run's test accuracy (0..1) after each epoch: the last evaluation the run recorded in
// epoch e (its end-of-epoch one under the default evaluation), NaN for an epoch without
// one. Empty for a run without evaluations.
std::vector<double> accuracy_by_epoch(const Run& run);

}  // namespace psl::report
