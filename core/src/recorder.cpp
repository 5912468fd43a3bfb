#include "recorder.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "digest.hpp"

namespace psl {

namespace {

// The process's peak resident memory (VmHWM: this program's own, unlike getrusage's
// maxrss, which can carry the spawning parent's over exec).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// The heap's size: every arena's memory from sbrk, plus mmap'd blocks. Training processes
// keep freed memory (no mmap, and no trimming below 1 GiB free: process_settings.cpp), so
// at the end of a run this is the heap's peak.
double heap_mib() {
  const struct mallinfo2 m = mallinfo2();
  return double(m.arena + m.hblkhd) / (1024.0 * 1024.0);
}

}  // namespace

// Running totals for summary.json; rebuilt from metrics.csv when a run resumes.
struct Recorder::Totals {
  std::int64_t steps = 0, samples = 0, active = 0, deferred = 0;
  double simulated_s = 0, straggler_wait_s = 0;
  StepBytes bytes;
  double availability_wait_s = 0, online_sum = 0;
  std::vector<double> deviations;
  bool evaluated = false;
  double accuracy = 0, test_loss = 0, macro_f1 = NAN;
  std::vector<double> class_accuracy;

  void add(const MetricsRow& r) {
    if (r.is_train) {
      ++steps;
      samples += r.batch_size;
      active += r.active_clients;
      deferred += r.deferred;
      straggler_wait_s += r.straggler_wait_s;
      bytes += r.bytes;
      availability_wait_s += r.availability_wait_s;
      online_sum += double(r.online_clients);
      simulated_s = r.simulated_time_s;
      deviations.push_back(r.batch_deviation);
    } else {
      evaluated = true;
      accuracy = r.test_accuracy;
      test_loss = r.test_loss;
      macro_f1 = r.test_macro_f1;
      class_accuracy = r.test_class_accuracy;
    }
  }
  double deviation_percentile(double q) const {
    if (deviations.empty()) return 0;
    std::vector<double> d = deviations;
    const auto at = std::size_t(std::llround(q * double(d.size() - 1)));
    std::nth_element(d.begin(), d.begin() + std::ptrdiff_t(at), d.end());
    return d[at];
  }
};

Recorder::Recorder(const Experiment& ex, const RunSettings& settings)
    : ex_(ex), settings_(settings), totals_(std::make_unique<Totals>()) {
  if (!settings_.schedule.empty()) {
    schedule_.open(settings_.schedule, std::ios::trunc);
    if (!schedule_) throw RunError(fmt::format("{}: cannot write the schedule", settings_.schedule.string()));
    schedule_ << "epoch,step,client,count\n";
  }
}

Recorder::~Recorder() = default;

void Recorder::start(const std::vector<std::vector<std::int64_t>>& label_histograms) {
  const std::string manifest = to_toml(ex_);
  manifest_sha256_ = sha256_hex(manifest);
  write_file_atomic(settings_.out / "manifest.toml", manifest);
  write_partition_csv(settings_.out / "partition.csv", label_histograms);
  metrics_ = std::make_unique<MetricsLog>(settings_.out, false);
}

void Recorder::resume(const CheckpointHeader& checkpoint, const std::string& manifest_sha256) {
  manifest_sha256_ = manifest_sha256;
  metrics_ = std::make_unique<MetricsLog>(settings_.out, true, checkpoint.metrics_bytes);
  for (const auto& r : MetricsLog::read(settings_.out / "metrics.csv")) totals_->add(r);
}

void Recorder::step(const PlannedStep& step, double loss, const StepBytes& bytes, double wall_s) {
  MetricsRow row;
  row.is_train = true;
  row.step = step.step;
  row.epoch = step.epoch;
  row.simulated_time_s = totals_->simulated_s + step.step_time_s;
  row.wall_time_s = wall_s;
  row.loss = loss;
  row.batch_size = step.batch_size;
  row.active_clients = std::int64_t(step.takes.size());
  row.batch_deviation = step.batch_deviation;
  row.step_time_s = step.step_time_s;
  row.straggler_wait_s = step.straggler_wait_s;
  row.deferred = step.deferred;
  row.bytes = bytes;
  row.online_clients = step.online_clients;
  row.availability_wait_s = step.availability_wait_s;
  metrics_->append(row);
  totals_->add(row);
  if (schedule_.is_open())
    for (const auto& take : step.takes)
      schedule_ << step.epoch << ',' << step.step << ',' << take.client << ',' << take.count << '\n';
}

void Recorder::evaluation(std::int64_t step, std::int64_t epoch, const Evaluation& e, double wall_s) {
  MetricsRow row;
  row.step = step;
  row.epoch = epoch;
  row.simulated_time_s = totals_->simulated_s;
  row.wall_time_s = wall_s;
  row.test_accuracy = e.accuracy;
  row.test_loss = e.loss;
  row.test_macro_f1 = e.macro_f1;
  row.test_class_accuracy = e.class_accuracy;
  metrics_->append(row);
  totals_->add(row);
}

void Recorder::checkpoint(const RunProgress& progress, std::int64_t global_step, double clock_s,
                          const std::string& state) {
  metrics_->sync();  // the rows the checkpoint names must be on disk before it is
  Checkpoint c;
  c.header.epochs_done = progress.epochs_done;
  c.header.global_step = global_step;
  c.header.metrics_bytes = metrics_->bytes();
  c.header.metrics_sha256 = metrics_sha256();
  c.header.manifest_sha256 = manifest_sha256_;
  c.header.wall_time_s = progress.wall_s;
  c.header.train_wall_time_s = progress.train_s;
  c.header.clock_s = clock_s;
  c.state = state;
  write_checkpoint(settings_.out, c);
}

const RunSummary& Recorder::write_summary(const std::string& status, const std::string& error,
                                          const RunProgress& progress, const StepExecutor* executor) {
  const auto& t = ex_.training_settings;
  const auto& totals = *totals_;
  RunSummary s;
  s.name = ex_.name;
  s.status = status;
  s.error = error;
  s.mode = settings_.train ? "run" : "sample";
  s.sampler = ex_.sampler.type;
  s.partitioner = ex_.partitioner.type;
  s.delay = ex_.delay.type;
  s.model = ex_.model.type;
  s.dataset = ex_.data.type;
  s.protocol = ex_.protocol.type;
  s.client_sync = to_string(t.client_sync);
  s.transport = to_string(ex_.transport_settings.type);
  s.num_clients = t.clients;
  s.batch_size = t.batch_size;
  s.seed = ex_.seed;
  s.epochs = t.epochs;
  s.epochs_completed = progress.epochs_done;
  s.train_steps = totals.steps;
  s.train_samples = totals.samples;
  if (totals.evaluated) {
    s.test_accuracy = totals.accuracy;
    s.test_loss = totals.test_loss;
    if (!std::isnan(totals.macro_f1)) s.macro_f1 = totals.macro_f1;
    s.per_class_accuracy = totals.class_accuracy;
  }
  s.simulated_time_s = totals.simulated_s;
  s.straggler_wait_s = totals.straggler_wait_s;
  s.bytes = totals.bytes;
  s.availability_wait_s = totals.availability_wait_s;
  s.deferred_contributions = totals.deferred;
  if (executor) executor->describe(s);
  s.wall_time_s = progress.wall_s;
  s.train_wall_time_s = progress.train_s;
  s.samples_per_s = progress.train_s > 0 ? double(totals.samples) / progress.train_s : 0.0;
  const double steps = std::max<double>(1, double(totals.steps));
  s.mean_batch_deviation = std::accumulate(totals.deviations.begin(), totals.deviations.end(), 0.0) / steps;
  s.p50_batch_deviation = totals.deviation_percentile(0.5);
  s.p90_batch_deviation = totals.deviation_percentile(0.9);
  s.mean_batch_size = double(totals.samples) / steps;
  s.mean_active_clients = double(totals.active) / steps;
  s.mean_online_clients = totals.online_sum / steps;
  s.steps_per_epoch = progress.steps_per_epoch;
  s.activation_bytes_per_sample = bytes_per_sample_;
  s.torch_threads = at::get_num_threads();
  s.peak_rss_mib = peak_rss_mib();
  s.peak_heap_mib = heap_mib();
  // What the summary belongs to: the manifest and the metrics.csv bytes it was written
  // with (docs/run-folder.md); readers refuse a folder whose files disagree with these.
  s.manifest_sha256 = manifest_sha256_;
  s.metrics_bytes = metrics_ ? metrics_->bytes() : 0;
  s.metrics_sha256 = metrics_ ? metrics_sha256() : "";
  write_run_summary(settings_.out, s);
  summary_ = std::move(s);
  return summary_;
}

const std::string& Recorder::metrics_sha256() {
  // Rows are only ever appended, so the same length means the same bytes.
  if (hashed_sha256_.empty() || hashed_bytes_ != metrics_->bytes()) {
    hashed_bytes_ = metrics_->bytes();
    hashed_sha256_ = file_prefix_sha256(metrics_->file(), hashed_bytes_);
  }
  return hashed_sha256_;
}

double Recorder::simulated_s() const { return totals_->simulated_s; }
std::int64_t Recorder::samples() const { return totals_->samples; }

}  // namespace psl
