#include "coordinator.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>

#include "digest.hpp"
#include "executor.hpp"
#include "experiment_parts.hpp"
#include "in_process_executor.hpp"
#include "learning_rate.hpp"
#include "net/tcp_executor.hpp"
#include "process_settings.hpp"
#include "progress.hpp"
#include "protocol_plan.hpp"
#include "psl/api/dataset.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/protocol.hpp"
#include "psl/api/sampler.hpp"
#include "psl/api/split_model.hpp"
#include "recorder.hpp"
#include "run_claim.hpp"
#include "run_extension.hpp"
#include "run_summary.hpp"
#include "step_planner.hpp"
#include "trainer.hpp"

namespace psl {

namespace {

using Clock = std::chrono::steady_clock;

// One run: build the components, then the step loop (docs/step-loop.md): the planner
// plans a step, the executor runs it, the recorder writes it down.
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
    lock_ = claim_run_folder(settings_);
    std::optional<ResumePoint> resume;
    if (settings_.resume) resume = verified_resume_point(settings_.out, settings_.extend);
    if (settings_.extend) extend(*resume);
    recorder_ = std::make_unique<Recorder>(ex_, settings_);
    owns_summary_ = !resume;  // a resume owns it once its state has loaded

    data_ = build<Dataset>(ex_, registry_, Kind::Dataset);
    Partition partition = make_partition(ex_, registry_, *data_);
    std::vector<std::int64_t> sizes;
    for (const auto& p : partition) sizes.push_back(std::int64_t(p.size()));
    delay_ = build<DelayModel>(ex_, registry_, Kind::Delay);
    Rng delay_rng = make_rng(std::uint64_t(ex_.seed), "delay");
    delay_->setup(t.clients, delay_rng);
    sampler_ = build<Sampler>(ex_, registry_, Kind::Sampler);
    auto model = build<SplitModel>(ex_, registry_, Kind::Model);
    SplitNetwork network = initial_network(ex_, *model, *data_);
    const auto activation_shape = measure_activation_shape(network.client, data_->sample_shape());
    const double bytes_per_sample = activation_bytes(activation_shape);
    recorder_->set_activation_bytes_per_sample(bytes_per_sample);

    PlannerConfig pc;
    pc.batch_size = t.batch_size;
    pc.num_classes = data_->num_classes();
    pc.bytes_per_sample = bytes_per_sample;
    pc.step_deadline_s = t.step_deadline_s;
    pc.label_aware = ex_.label_aware;
    pc.seed = std::uint64_t(ex_.seed);
    pc.sampler_name = ex_.sampler.type;
    if (const Component* c = registry_.find(Kind::Sampler, ex_.sampler.type)) pc.sampler_library = c->library.string();
    planner_ = std::make_unique<StepPlanner>(std::move(partition), data_->labels(Split::Train), *sampler_, *delay_, pc);
    protocol_ = build<Protocol>(ex_, registry_, Kind::Protocol);
    ProtocolPlanConfig ppc;
    ppc.name = ex_.protocol.type;
    if (const Component* c = registry_.find(Kind::Protocol, ex_.protocol.type)) ppc.library = c->library.string();
    ppc.num_clients = t.clients;
    ppc.seed = std::uint64_t(ex_.seed);
    ppc.bytes_per_sample = bytes_per_sample;
    for (const auto& p : network.client->parameters()) ppc.part_parameter_bytes += double(p.nbytes());
    ppc.part_weight_bytes = ppc.part_parameter_bytes;
    for (const auto& b : network.client->buffers()) ppc.part_weight_bytes += double(b.nbytes());
    protocol_plan_ = std::make_unique<ProtocolPlan>(*protocol_, ppc, *delay_);
    planner_->set_protocol(protocol_plan_.get());

    std::optional<TrainingSetup> setup;
    if (settings_.train) {
      setup.emplace(TrainingSetup{*model, network, activation_shape, sizes, t, protocol_plan_->shape(),
                                  data_->sample_shape(), data_->num_classes()});
      for (std::int64_t k = 0; k < t.clients; ++k) setup->timings.push_back(delay_->expected(k));
    }
    if (ex_.transport_settings.type == TransportKind::Tcp && setup)
      executor_ = std::make_unique<net::TcpExecutor>(ex_, settings_, *setup, data_->num_classes());
    else
      executor_ = std::make_unique<InProcessExecutor>(*data_, setup);
    trainer_ = executor_->trainer();
    model_ = std::move(model);

    CheckpointHeader start;
    if (resume) {
      if (trainer_) {
        load_trainer_state(resume->checkpoint.state);
        protocol_plan_->set_last_active(trainer_->last_active());  // whose part the next hand-over passes on
      }
      start = resume->checkpoint.header;
      recorder_->resume(start, resume->manifest_sha256);
    } else {
      recorder_->start(planner_->label_histograms());
      print_partition();
    }
    owns_summary_ = true;
    loop(start);
  }

  void write_summary(const std::string& status, const std::string& error = "") {
    summary_ = recorder_->write_summary(status, error, progress_, executor_.get());
  }
  const RunSummary& summary() const { return summary_; }
  void stop(const std::string& reason) {
    if (executor_) executor_->stop(reason);
  }

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

  // `psl run --resume DIR --epochs N`: the folder becomes the run of N epochs.
  void extend(ResumePoint& point) {
    const auto epochs = ex_.training_settings.epochs, done = point.checkpoint.header.epochs_done;
    if (epochs <= done)
      throw RunRefused(fmt::format("{}: the run has {} epochs done; --epochs {} adds none", settings_.out.string(),
                                   done, epochs));
    const std::string manifest = to_toml(ex_);
    if (sha256_hex(manifest) == point.manifest_sha256) return;  // its own epochs: a plain resume
    if (const auto why = why_not_extendable(ex_); !why.empty())
      throw RunRefused(fmt::format("{}: cannot be continued to more epochs: {}; start a new run with --set "
                                   "training.epochs={} instead",
                                   settings_.out.string(), why, epochs));
    begin_extension(settings_.out, point, manifest);
  }

  void load_trainer_state(const std::string& state) {
    try {
      trainer_->load_state(state);
    } catch (const c10::Error& e) {
      throw RunRefused(fmt::format("{}: the checkpoint's model state does not fit this model: {}",
                                   checkpoint_file(settings_.out).string(), e.what_without_backtrace()));
    } catch (const std::invalid_argument& e) {
      throw RunRefused(fmt::format("{}: the checkpoint's model state does not fit this run: {}",
                                   checkpoint_file(settings_.out).string(), e.what()));
    }
  }

  void evaluate(std::int64_t step, std::int64_t epoch, Progress& progress) {
    if (!trainer_) return;
    const Evaluation e = trainer_->evaluate(*data_);
    recorder_->evaluation(step, epoch, e, elapsed());
    progress.evaluated(e.accuracy);
  }

  double elapsed() const { return wall_offset_ + std::chrono::duration<double>(Clock::now() - started_).count(); }

  void loop(const CheckpointHeader& start) {
    const auto& t = ex_.training_settings;
    const std::int64_t n = std::int64_t(data_->labels(Split::Train).size());
    Progress progress(settings_.quiet, t.epochs * n, t.max_steps, recorder_->samples());

    executor_->before_training();
    started_ = Clock::now();
    wall_offset_ = start.wall_time_s;
    progress_.train_s = start.train_wall_time_s;
    progress_.wall_s = start.wall_time_s;
    progress_.epochs_done = start.epochs_done;
    planner_->set_global_step(start.global_step);
    // Exact from the checkpoint (availability is read on this clock); older ones: from metrics.csv.
    planner_->set_clock(start.clock_s >= 0 ? start.clock_s : recorder_->simulated_s());
    // An extended run's summary.json still describes the shorter run: say what the folder is now.
    if (settings_.extend) write_summary("running");
    bool stopped = false;
    for (std::int64_t epoch = start.epochs_done; epoch < t.epochs && !stopped; ++epoch) {
      planner_->begin_epoch(epoch);
      std::int64_t epoch_steps = 0;
      while (!planner_->epoch_done()) {
        const auto t0 = Clock::now();
        const PlannedStep step = planner_->next();                  // plan
        if (trainer_ && t.lr_schedule != LrSchedule::Constant)
          trainer_->scale_learning_rate(
              lr_factor(t.lr_schedule, run_fraction(recorder_->samples(), t.epochs * n, step.step, t.max_steps)));
        const StepOutcome outcome = executor_->execute(step);       // execute
        for (const auto k : outcome.dropped) planner_->drop_client(k);
        for (const auto& l : outcome.latencies) planner_->observe_latency(l.client, l.samples, l.seconds);
        progress_.train_s += std::chrono::duration<double>(Clock::now() - t0).count();
        ++epoch_steps;
        recorder_->step(step, outcome.loss, outcome.bytes.value_or(step.bytes), elapsed());  // record
        progress.step(epoch, step.step, recorder_->samples(), outcome.loss,
                      progress_.train_s > 0 ? double(recorder_->samples()) / progress_.train_s : 0.0);
        stopped = t.max_steps > 0 && step.step + 1 >= t.max_steps;
        // The last step of an epoch, or of the run, is evaluated once, below.
        if (t.eval_every_steps > 0 && (step.step + 1) % t.eval_every_steps == 0 && !planner_->epoch_done() && !stopped)
          evaluate(step.step, epoch, progress);
        if (stopped) break;
      }
      if (epoch == start.epochs_done) progress_.steps_per_epoch = epoch_steps;
      if (!stopped) ++progress_.epochs_done;
      progress_.wall_s = elapsed();
      evaluate(planner_->steps_planned() - 1, epoch, progress);
      progress_.wall_s = elapsed();
      if (!stopped && trainer_) recorder_->checkpoint(progress_, planner_->steps_planned(), planner_->clock_s(), trainer_->save_state());
      write_summary(progress_.epochs_done == t.epochs ? "complete" : "running");
      if (settings_.stop_after_epochs > 0 && progress_.epochs_done == settings_.stop_after_epochs) return;
    }
    progress.finish();
    progress_.wall_s = elapsed();
    write_summary("complete");
    executor_->stop("the run is complete");
  }

  const Experiment& ex_;
  Registry& registry_;
  RunSettings settings_;
  std::unique_ptr<FolderLock> lock_;
  std::unique_ptr<Dataset> data_;
  std::unique_ptr<DelayModel> delay_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<SplitModel> model_;  // outlives the executor that builds replicas from it
  Trainer* trainer_ = nullptr;         // the executor's; null for psl sample
  std::unique_ptr<Protocol> protocol_;
  std::unique_ptr<ProtocolPlan> protocol_plan_;  // holds the protocol: declared after it
  std::unique_ptr<StepPlanner> planner_;         // holds the plan
  std::unique_ptr<StepExecutor> executor_;
  std::unique_ptr<Recorder> recorder_;
  RunProgress progress_;
  RunSummary summary_;
  bool owns_summary_ = false;
  Clock::time_point started_;
  double wall_offset_ = 0;
};

}  // namespace

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
    run.stop("the run failed: " + message);
    throw RunError(message);
  }
}

}  // namespace psl
