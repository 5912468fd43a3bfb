#include "coordinator.hpp"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "checkpoint.hpp"
#include "digest.hpp"
#include "net/client_processes.hpp"
#include "net/remote_steps.hpp"
#include "net/server.hpp"
#include "net/credentials.hpp"
#include "net/tokens.hpp"
#include "process_settings.hpp"
#include "progress.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/partitioner.hpp"
#include "psl/api/sampler.hpp"
#include "psl/api/split_model.hpp"
#include "run_folder.hpp"
#include "run_lock.hpp"
#include "run_summary.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace psl {

namespace {

using Clock = std::chrono::steady_clock;

Context context_for(const Experiment& ex, Kind kind) {
  Context ctx;
  ctx.params = ex.component(kind).params;
  ctx.seed = std::uint64_t(ex.seed);
  ctx.base_dir = ex.file.parent_path();
  ctx.num_clients = ex.training_settings.clients;
  ctx.batch_size = ex.training_settings.batch_size;
  return ctx;
}

template <class T>
std::unique_ptr<T> build(const Experiment& ex, Registry& registry, Kind kind) {
  const auto& spec = ex.component(kind);
  try {
    return registry.make<T>(kind, spec.type, context_for(ex, kind));
  } catch (const std::exception& e) {
    throw RunError(fmt::format("{} '{}': {}", to_string(kind), spec.type, e.what()));
  }
}

}  // namespace

// The partition is a pure function of the manifest and its seed: the server and every
// real client compute the same one, so no sample crosses the network.
static void check_partition(const Experiment& ex_, const Partition& partition, std::int64_t n) {
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

namespace {

// The process's peak resident memory (VmHWM: this program's own, unlike getrusage's
// maxrss, which can carry the spawning parent's over exec).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// Running totals for summary.json; rebuilt from metrics.csv when a run resumes.
struct Totals {
  std::int64_t steps = 0, samples = 0, active = 0, deferred = 0;
  double simulated_s = 0, straggler_wait_s = 0;
  std::vector<double> deviations;
  bool evaluated = false;
  double accuracy = 0, test_loss = 0;

  void add(const MetricsRow& r) {
    if (r.is_train) {
      ++steps;
      samples += r.batch_size;
      active += r.active_clients;
      deferred += r.deferred;
      straggler_wait_s += r.straggler_wait_s;
      simulated_s = r.simulated_time_s;
      deviations.push_back(r.batch_deviation);
    } else {
      evaluated = true;
      accuracy = r.test_accuracy;
      test_loss = r.test_loss;
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

class Run {
 public:
  Run(const Experiment& ex, Registry& registry, const RunSettings& settings)
      : ex_(ex), registry_(registry), settings_(settings) {}

  // True once this process has claimed the folder and what it holds describes this run:
  // only then may a failure be recorded in its summary.json.
  bool owns_summary() const { return owns_summary_; }

  void execute() {
    const auto& t = ex_.training_settings;
    configure_process(t.threads);
    claim_folder();
    owns_summary_ = !settings_.resume;  // a resume owns it once the checkpoint checks out
    CheckpointHeader start;
    Checkpoint checkpoint;
    if (settings_.resume) {
      checkpoint = verified_checkpoint();
      start = checkpoint.header;
    }

    data_ = build<Dataset>(ex_, registry_, Kind::Dataset);
    const auto& labels = data_->labels(Split::Train);
    Partition partition = make_partition(ex_, registry_, *data_);
    std::vector<std::int64_t> sizes;
    for (const auto& p : partition) sizes.push_back(std::int64_t(p.size()));

    delay_ = build<DelayModel>(ex_, registry_, Kind::Delay);
    Rng delay_rng = make_rng(std::uint64_t(ex_.seed), "delay");
    delay_->setup(t.clients, delay_rng);
    sampler_ = build<Sampler>(ex_, registry_, Kind::Sampler);
    auto model = build<SplitModel>(ex_, registry_, Kind::Model);

    // Model weights come from torch's generator, seeded here and nowhere else.
    torch::manual_seed(std::uint64_t(stream_seed(std::uint64_t(ex_.seed), "model-init")));
    TrainerConfig tc{t.optimizer, t.lr,    t.momentum,       t.weight_decay, t.client_sync, t.sync_every_steps,
                     t.fused,     t.eval_batch_size};
    try {
      if (settings_.train) {
        trainer_ = std::make_unique<Trainer>(*model, data_->sample_shape(), data_->num_classes(), sizes, tc);
        bytes_per_sample_ = trainer_->activation_bytes_per_sample();
      } else {
        auto net = model->build(data_->sample_shape(), data_->num_classes());
        bytes_per_sample_ = activation_bytes(measure_activation_shape(net.client, data_->sample_shape()));
      }
    } catch (const c10::Error& e) {
      throw RunError(fmt::format("model '{}': {}", ex_.model.type, e.what_without_backtrace()));
    } catch (const std::exception& e) {
      throw RunError(fmt::format("model '{}': {}", ex_.model.type, e.what()));
    }

    PlannerConfig pc;
    pc.batch_size = t.batch_size;
    pc.num_classes = data_->num_classes();
    pc.bytes_per_sample = bytes_per_sample_;
    pc.step_deadline_s = t.step_deadline_s;
    pc.label_aware = ex_.label_aware;
    pc.seed = std::uint64_t(ex_.seed);
    pc.sampler_name = ex_.sampler.type;
    planner_ = std::make_unique<StepPlanner>(std::move(partition), labels, *sampler_, *delay_, pc);

    if (ex_.transport_settings.type == TransportKind::Tcp && settings_.train) start_remote(pc);

    if (settings_.resume) {
      if (settings_.train) load_trainer_state(checkpoint.state);
      metrics_ = std::make_unique<MetricsLog>(settings_.out, true, start.metrics_bytes);
      for (const auto& r : MetricsLog::read(settings_.out / "metrics.csv")) totals_.add(r);
    } else {
      const std::string manifest = to_toml(ex_);
      manifest_sha256_ = sha256_hex(manifest);
      write_file_atomic(settings_.out / "manifest.toml", manifest);
      write_partition_csv(settings_.out / "partition.csv", planner_->label_histograms());
      metrics_ = std::make_unique<MetricsLog>(settings_.out, false);
      print_partition();
    }
    owns_summary_ = true;
    if (!settings_.schedule.empty()) {
      schedule_.open(settings_.schedule, std::ios::trunc);
      if (!schedule_) throw RunError(fmt::format("{}: cannot write the schedule", settings_.schedule.string()));
      schedule_ << "epoch,step,client,count\n";
    }
    loop(start);
  }

  // Real clients: the server, the client processes (psl run), the remote step driver.
  void start_remote(const PlannerConfig&) {
    const auto& tr = ex_.transport_settings;
    if (ex_.training_settings.client_sync != ClientSync::Shared)
      throw RunError("transport.type = \"tcp\" runs training.client_sync = \"shared\" only; run local and fedavg simulated");
    const std::int64_t K = ex_.training_settings.clients;
    net::ServerOptions so;
    so.listen = settings_.listen.empty() ? tr.listen : settings_.listen;
    net::ServerCredentials credentials;
    try {
      credentials = net::prepare_credentials(ex_, settings_.out, so.listen, settings_.resume, settings_.spawn_clients);
    } catch (const net::CredentialsRefused& e) {
      throw RunRefused(e.what());
    }
    so.token = credentials.master_token;
    so.tls = credentials.tls;
    so.tls_files = credentials.server;
    so.manifest_text = to_toml(ex_);
    so.run_id = fmt::format("{:016x}", std::hash<std::string>{}(so.manifest_text));
    so.num_clients = K;
    so.handshake_timeout_s = tr.handshake_timeout_s;
    so.ready_timeout_s = tr.ready_timeout_s;
    const bool quiet = settings_.quiet;
    so.log = [quiet](const std::string& line) {
      if (!quiet) fmt::print(stderr, "server: {}\n", line);
    };
    try {
      server_ = std::make_unique<net::TcpServer>(so);
    } catch (const std::exception& e) {
      throw RunError(e.what());
    }
    const std::string address = server_->address();
    write_file_atomic(settings_.out / "server.txt", address + "\n");
    if (!quiet)
      fmt::print(stderr, "server: listening on {}{} (client tokens in {})\n", address, so.tls ? " with TLS" : "",
                 credentials.tokens_dir.string());

    if (settings_.spawn_clients) {
      clients_ = std::make_unique<net::ClientProcesses>();
      for (std::int64_t k = 0; k < K; ++k) {
        std::vector<std::string> args = {"psl", "client", "--connect", address, "--id", std::to_string(k),
                                         "--token-file", net::client_token_file(credentials.tokens_dir, k).string(),
                                         "--quiet",
                                         "--exit-with-parent", std::to_string(::getpid())};
        if (so.tls) {
          const auto& files = credentials.clients.at(std::size_t(k));
          args.insert(args.end(), {"--tls-ca", files.ca, "--tls-cert", files.cert, "--tls-key", files.key});
        }
        clients_->spawn(k, std::move(args));
      }
    }
    // Clients started by hand may take a while; spawned ones get two minutes.
    const double patience = settings_.spawn_clients ? 120.0 : 24 * 3600.0;
    const auto t0 = Clock::now();
    for (;;) {
      auto missing = server_->wait_all_connected(10.0);
      if (missing.empty()) break;
      if (std::chrono::duration<double>(Clock::now() - t0).count() > patience)
        throw RunError(fmt::format("clients {} did not connect to {}", fmt::join(missing, ", "), address));
      if (!quiet) fmt::print(stderr, "server: waiting for {} client(s): {}\n", missing.size(), fmt::join(missing, ", "));
    }
    net::RemoteOptions ro;
    ro.on_client_loss = tr.on_client_loss;
    ro.step_timeout_s = tr.step_timeout_s;
    ro.max_value = tr.max_client_value;
    ro.activation_shape = trainer_->activation_shape();
    ro.num_classes = data_->num_classes();
    net::RemoteHooks hooks;
    hooks.drop = [this](std::int64_t k) { planner_->drop_client(k); };
    hooks.log = so.log;
    hooks.restart = [this, log = so.log](std::int64_t k) {
      if (clients_ && clients_->restart_if_ended(k)) log(fmt::format("client {}'s process had ended; started it again", k));
    };
    remote_ = std::make_unique<net::RemoteSteps>(*server_, *trainer_, ro, std::move(hooks));
  }

 public:
  void stop_remote(const std::string& reason) {
    if (server_) server_->shutdown_all(reason);
    if (clients_) clients_->stop(10.0);
  }

  // Writes summary.json as the run stands now, and keeps it as the run's result.
  void write_summary(const std::string& status, const std::string& error = "") {
    const auto& t = ex_.training_settings;
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
    s.client_sync = to_string(t.client_sync);
    s.transport = to_string(ex_.transport_settings.type);
    s.num_clients = t.clients;
    s.batch_size = t.batch_size;
    s.seed = ex_.seed;
    s.epochs = t.epochs;
    s.epochs_completed = epochs_done_;
    s.train_steps = totals_.steps;
    s.train_samples = totals_.samples;
    if (totals_.evaluated) s.test_accuracy = totals_.accuracy, s.test_loss = totals_.test_loss;
    s.simulated_time_s = totals_.simulated_s;
    s.straggler_wait_s = totals_.straggler_wait_s;
    s.deferred_contributions = totals_.deferred;
    if (remote_) {
      s.dropped_clients = remote_->dropped_clients();
      const auto& p = remote_->phase_seconds();
      s.remote_phase_s = RemotePhaseSeconds{p.activations, p.server, p.client_gradients};
      s.lost_samples = lost_samples_;
    }
    s.wall_time_s = wall_s_;
    s.train_wall_time_s = train_s_;
    s.samples_per_s = train_s_ > 0 ? double(totals_.samples) / train_s_ : 0.0;
    const double steps = std::max<double>(1, double(totals_.steps));
    s.mean_batch_deviation = std::accumulate(totals_.deviations.begin(), totals_.deviations.end(), 0.0) / steps;
    s.p50_batch_deviation = totals_.deviation_percentile(0.5);
    s.p90_batch_deviation = totals_.deviation_percentile(0.9);
    s.mean_batch_size = double(totals_.samples) / steps;
    s.mean_active_clients = double(totals_.active) / steps;
    s.steps_per_epoch = steps_per_epoch_;
    s.activation_bytes_per_sample = bytes_per_sample_;
    s.torch_threads = at::get_num_threads();
    s.peak_rss_mib = peak_rss_mib();
    // What the summary belongs to: the manifest and the metrics.csv bytes it was written
    // with (docs/run-folder.md); readers refuse a folder whose files disagree with these.
    s.manifest_sha256 = manifest_sha256_;
    s.metrics_bytes = metrics_ ? metrics_->bytes() : 0;
    s.metrics_sha256 = metrics_ ? file_prefix_sha256(metrics_->file(), metrics_->bytes()) : "";
    write_run_summary(settings_.out, s);
    summary_ = std::move(s);
  }

  const RunSummary& summary() const { return summary_; }

 private:
  void print_partition() const {
    if (settings_.quiet) return;
    const auto& h = planner_->label_histograms();
    std::vector<std::int64_t> sizes;
    std::vector<std::int64_t> classes_held;
    for (const auto& row : h) {
      sizes.push_back(std::accumulate(row.begin(), row.end(), std::int64_t{0}));
      classes_held.push_back(std::count_if(row.begin(), row.end(), [](auto c) { return c > 0; }));
    }
    if (h.size() <= 32) {
      fmt::print(stderr, "partition ({} clients): samples [per-class counts]\n", h.size());
      for (std::size_t k = 0; k < h.size(); ++k)
        fmt::print(stderr, "  client {:>3}: {:>6} [{}]\n", k, sizes[k], fmt::join(h[k], " "));
    } else {
      auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
      fmt::print(stderr, "partition: {} clients, {}..{} samples, {:.1f} classes each on average (partition.csv)\n",
                 h.size(), *mn, *mx,
                 double(std::accumulate(classes_held.begin(), classes_held.end(), std::int64_t{0})) / double(h.size()));
    }
  }

  // One writer per folder; a fresh run never lands on top of another run.
  void claim_folder() {
    const auto& out = settings_.out;
    try {
      if (!settings_.resume && holds_run(out)) {
        if (!settings_.force)
          throw RunRefused(fmt::format(
              "{} holds another run; continue it with `psl run --resume {}`, choose another folder with --out, or "
              "add --force to move it aside (it is kept as {}.replaced-DATE) and start here",
              out.string(), out.string(), out.string()));
        std::filesystem::path aside;
        {
          FolderLock old(out);
          aside = move_aside(out);
        }
        if (!settings_.quiet)
          fmt::print(stderr, "--force: the run that was in {} is now in {}\n", out.string(), aside.string());
      }
      lock_ = std::make_unique<FolderLock>(out);
    } catch (const FolderBusy& e) {
      throw RunRefused(e.what());
    }
  }

  // The checkpoint to resume from, checked against the folder before anything is written.
  Checkpoint verified_checkpoint() {
    const auto& out = settings_.out;
    bool complete = false;
    try {
      complete = read_run_summary(out).complete();
    } catch (const std::runtime_error&) {  // none or unreadable: the checkpoint decides
    }
    if (complete) throw RunRefused(fmt::format("{}: the run is complete; there is nothing to resume", out.string()));
    Checkpoint c;
    try {
      c = read_checkpoint(out);
    } catch (const CheckpointError& e) {
      throw RunRefused(e.what());
    }
    std::ifstream in(out / "manifest.toml", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    manifest_sha256_ = sha256_hex(text.str());
    if (manifest_sha256_ != c.header.manifest_sha256)
      throw RunRefused(fmt::format("{}: manifest.toml was changed after the run started (its checksum differs from "
                                   "the checkpoint's); resuming would mix two setups. Restore it, or start a new run "
                                   "with the changed manifest and another --out",
                                   (out / "manifest.toml").string()));
    const auto metrics = out / "metrics.csv";
    const auto size = std::filesystem::exists(metrics) ? std::filesystem::file_size(metrics) : 0;
    if (size < c.header.metrics_bytes)
      throw RunRefused(fmt::format("{}: holds {} bytes, but the checkpoint covers {}: rows the checkpoint relies on "
                                   "are gone; the run cannot resume",
                                   metrics.string(), size, c.header.metrics_bytes));
    if (file_prefix_sha256(metrics, c.header.metrics_bytes) != c.header.metrics_sha256)
      throw RunRefused(fmt::format("{}: its first {} bytes are not the ones the checkpoint recorded (the file was "
                                   "rewritten or another run wrote it); the run cannot resume",
                                   metrics.string(), c.header.metrics_bytes));
    return c;
  }

  void load_trainer_state(const std::string& state) {
    try {
      trainer_->load_state(state);
    } catch (const c10::Error& e) {
      throw RunRefused(fmt::format("{}: the checkpoint's model state does not fit this model: {}",
                                   checkpoint_file(settings_.out).string(), e.what_without_backtrace()));
    }
  }

  void write_checkpoint() const {
    if (!trainer_) return;
    metrics_->sync();  // the rows the checkpoint names must be on disk before it is
    Checkpoint c;
    c.header.epochs_done = epochs_done_;
    c.header.global_step = planner_->steps_planned();
    c.header.metrics_bytes = metrics_->bytes();
    c.header.metrics_sha256 = file_prefix_sha256(metrics_->file(), metrics_->bytes());
    c.header.manifest_sha256 = manifest_sha256_;
    c.header.wall_time_s = wall_s_;
    c.header.train_wall_time_s = train_s_;
    c.state = trainer_->save_state();
    psl::write_checkpoint(settings_.out, c);
  }

  void evaluate(std::int64_t step, std::int64_t epoch, Progress& progress) {
    if (!trainer_) return;
    const Evaluation e = trainer_->evaluate(*data_);
    MetricsRow row;
    row.step = step;
    row.epoch = epoch;
    row.simulated_time_s = totals_.simulated_s;
    row.wall_time_s = elapsed();
    row.test_accuracy = e.accuracy;
    row.test_loss = e.loss;
    metrics_->append(row);
    totals_.add(row);
    progress.evaluated(e.accuracy);
  }

  double elapsed() const { return wall_offset_ + std::chrono::duration<double>(Clock::now() - started_).count(); }

  void loop(const CheckpointHeader& start) {
    const auto& t = ex_.training_settings;
    const std::int64_t epochs = t.epochs, max_steps = t.max_steps;
    const std::int64_t eval_every = t.eval_every_steps;
    const std::int64_t n = std::int64_t(data_->labels(Split::Train).size());
    const std::int64_t B = t.batch_size;
    std::int64_t planned_total = epochs * ((n + B - 1) / B);
    if (max_steps > 0) planned_total = std::min(planned_total, max_steps);
    Progress progress(settings_.quiet, planned_total);
    const auto& labels = data_->labels(Split::Train);

    // Load the training features now (a lazy data set reads them on first use), so that
    // loading is not counted as training time.
    if (trainer_ && !remote_) data_->features(Split::Train, {0});
    started_ = Clock::now();
    wall_offset_ = start.wall_time_s;
    train_s_ = start.train_wall_time_s;
    epochs_done_ = start.epochs_done;
    planner_->set_global_step(start.global_step);
    bool stopped = false;
    for (std::int64_t epoch = start.epochs_done; epoch < epochs && !stopped; ++epoch) {
      planner_->begin_epoch(epoch);
      std::int64_t epoch_steps = 0;
      while (!planner_->epoch_done()) {
        const auto t0 = Clock::now();
        PlannedStep step = planner_->next();
        double loss = NAN;
        if (remote_) {
          try {
            if (!step.takes.empty()) loss = remote_->step(step);
          } catch (const net::ClientLost& e) {
            throw RunError(fmt::format("{}; the last checkpoint is in {} (psl run --resume {})", e.what(),
                                       settings_.out.string(), settings_.out.string()));
          }
          lost_samples_ += step.lost;
        } else if (trainer_ && !step.takes.empty()) {
          at::Tensor x = data_->features(Split::Train, step.indices);
          std::vector<std::int64_t> y(step.indices.size());
          for (std::size_t i = 0; i < y.size(); ++i) y[i] = labels[std::size_t(step.indices[i])];
          loss = trainer_->step(step.takes, x, torch::tensor(y));
        }
        // (NaN with real clients means every client of the step was dropped.)
        if (std::isinf(loss) || (std::isnan(loss) && !remote_ && trainer_ && !step.takes.empty()))
          throw RunError(fmt::format("the loss is {} at step {}: lower training.lr", loss, step.step));
        train_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
        ++epoch_steps;

        MetricsRow row;
        row.is_train = true;
        row.step = step.step;
        row.epoch = epoch;
        row.simulated_time_s = totals_.simulated_s + step.step_time_s;
        row.wall_time_s = elapsed();
        row.loss = loss;
        row.batch_size = step.batch_size;
        row.active_clients = std::int64_t(step.takes.size());
        row.batch_deviation = step.batch_deviation;
        row.step_time_s = step.step_time_s;
        row.straggler_wait_s = step.straggler_wait_s;
        row.deferred = step.deferred;
        metrics_->append(row);
        totals_.add(row);
        if (schedule_.is_open())
          for (const auto& take : step.takes) schedule_ << epoch << ',' << step.step << ',' << take.client << ',' << take.count << '\n';

        progress.step(epoch, step.step, loss, train_s_ > 0 ? double(totals_.samples) / train_s_ : 0.0);
        if (eval_every > 0 && (step.step + 1) % eval_every == 0 && !planner_->epoch_done()) evaluate(step.step, epoch, progress);
        if (max_steps > 0 && step.step + 1 >= max_steps) {
          stopped = true;
          break;
        }
      }
      if (epoch == start.epochs_done) steps_per_epoch_ = epoch_steps;
      if (!stopped) ++epochs_done_;
      wall_s_ = elapsed();
      evaluate(planner_->steps_planned() - 1, epoch, progress);
      wall_s_ = elapsed();
      if (!stopped) write_checkpoint();
      write_summary(epochs_done_ == epochs ? "complete" : "running");
      if (settings_.stop_after_epochs > 0 && epochs_done_ == settings_.stop_after_epochs) return;
    }
    progress.finish();
    wall_s_ = elapsed();
    write_summary("complete");
    stop_remote("the run is complete");
  }

  const Experiment& ex_;
  Registry& registry_;
  RunSettings settings_;
  std::unique_ptr<Dataset> data_;
  std::unique_ptr<DelayModel> delay_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Trainer> trainer_;
  std::unique_ptr<StepPlanner> planner_;
  std::unique_ptr<MetricsLog> metrics_;
  std::ofstream schedule_;
  Totals totals_;
  std::unique_ptr<net::TcpServer> server_;
  std::unique_ptr<net::ClientProcesses> clients_;
  std::unique_ptr<net::RemoteSteps> remote_;
  std::int64_t lost_samples_ = 0;
  double bytes_per_sample_ = 0;
  std::int64_t steps_per_epoch_ = 0;
  std::int64_t epochs_done_ = 0;
  std::unique_ptr<FolderLock> lock_;
  std::string manifest_sha256_;
  bool owns_summary_ = false;
  RunSummary summary_;
  Clock::time_point started_;
  double wall_offset_ = 0, wall_s_ = 0, train_s_ = 0;
};

}  // namespace

ClientSide build_client_side(const Experiment& ex, Registry& registry, std::int64_t client) {
  ClientSide side;
  side.dataset = build<Dataset>(ex, registry, Kind::Dataset);
  Partition partition = make_partition(ex, registry, *side.dataset);
  side.shard = std::move(partition.at(std::size_t(client)));
  side.model = build<SplitModel>(ex, registry, Kind::Model);
  return side;
}

RunSummary run_experiment(const Experiment& experiment, Registry& registry, const RunSettings& settings) {
  Run run(experiment, registry, settings);
  try {
    run.execute();
    return run.summary();
  } catch (const RunRefused&) {
    throw;  // nothing was written
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) message = c10->what_without_backtrace();
    if (run.owns_summary()) {
      try {
        run.write_summary("failed", message);
      } catch (...) {  // the original error matters more than a failed summary
      }
    }
    run.stop_remote("the run failed: " + message);
    throw RunError(message);
  }
}

}  // namespace psl
