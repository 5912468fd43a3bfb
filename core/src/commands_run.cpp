// `psl run` and `psl sample`.
#include <fmt/format.h>

#include <cmath>

#include "commands.hpp"
#include "coordinator.hpp"
#include "process_settings.hpp"

namespace psl {

namespace {

int execute(const Experiment& ex, Registry& registry, RunSettings settings) {
  RunSummary s;
  try {
    s = run_experiment(ex, registry, settings);
  } catch (const RunRefused& e) {
    fmt::print(stderr, "psl: refused: {}\n", e.what());
    return 2;
  } catch (const RunError& e) {
    fmt::print(stderr, "psl: run failed: {}\n(what was written is in {})\n", e.what(), settings.out.string());
    return 1;
  }
  if (settings.train) {
    fmt::print("{}: test accuracy {:.2f}% after {} steps; simulated time {:.1f} s; wall time {:.1f} s; "
               "{:.0f} samples/s; mean batch deviation {:.4f}\n",
               ex.name, 100.0 * s.test_accuracy.value_or(NAN), s.train_steps, s.simulated_time_s, s.wall_time_s,
               s.samples_per_s, s.mean_batch_deviation);
  } else {
    fmt::print("{} ({}): {} steps ({} in the first epoch), batch deviation mean {:.4f} p50 {:.4f} p90 {:.4f}, "
               "mean batch {:.1f} from {:.1f} clients, simulated time {:.2f} s (straggler wait {:.2f} s)\n",
               ex.name, s.sampler, s.train_steps, s.steps_per_epoch, s.mean_batch_deviation, s.p50_batch_deviation,
               s.p90_batch_deviation, s.mean_batch_size, s.mean_active_clients, s.simulated_time_s,
               s.straggler_wait_s);
  }
  fmt::print("run folder: {}\n", settings.out.string());
  return 0;
}

}  // namespace

static int run_or_serve(const RunOptions& options, bool spawn_clients);

int command_run(const RunOptions& options) {
  return run_or_serve(options, true);
}

int command_serve(const RunOptions& options) {
  return run_or_serve(options, false);
}

static int run_or_serve(const RunOptions& options, bool spawn_clients) {
  Registry registry;
  RunSettings settings;
  settings.quiet = options.quiet;
  settings.spawn_clients = spawn_clients;
  settings.listen = options.listen;
  settings.stop_after_epochs = options.stop_after_epochs;
  settings.force = options.force;
  if (options.parent_pid > 0 && !exit_with_parent(options.parent_pid)) return 1;
  std::string manifest = options.manifest;
  std::vector<std::string> sets = options.sets;
  if (options.epochs > 0 && options.resume.empty()) {
    fmt::print(stderr, "psl run: --epochs continues a run (--resume DIR); a new run takes --set training.epochs={}\n",
               options.epochs);
    return 2;
  }
  if (!options.resume.empty()) {
    // The run folder's resolved manifest is the truth; overrides would change the run.
    if (!options.sets.empty() || options.force) {
      fmt::print(stderr, "psl run --resume: {} cannot change a run being resumed\n",
                 options.force ? "--force" : "--set");
      return 2;
    }
    settings.out = options.resume;
    settings.resume = true;
    manifest = (settings.out / "manifest.toml").string();
    if (options.epochs > 0) {
      sets = {fmt::format("training.epochs={}", options.epochs)};
      settings.extend = true;
    }
  }
  if (manifest.empty()) {
    fmt::print(stderr, "psl run: give a MANIFEST, or --resume RUN_DIR\n");
    return 2;
  }
  auto ex = load_or_report(manifest, sets, registry);
  if (!ex) return 2;
  if (!spawn_clients && ex->transport_settings.type != TransportKind::Tcp) {
    fmt::print(stderr, "psl serve: {} has transport.type = \"{}\"; serve needs \"tcp\" (--set transport.type=tcp)\n",
               manifest, to_string(ex->transport_settings.type));
    return 2;
  }
  if (!settings.resume) settings.out = options.out.empty() ? std::filesystem::path("runs") / ex->name : std::filesystem::path(options.out);
  return execute(*ex, registry, settings);
}

int command_sample(const RunOptions& options) {
  Registry registry;
  auto ex = load_or_report(options.manifest, options.sets, registry);
  if (!ex) return 2;
  RunSettings settings;
  settings.train = false;
  settings.force = options.force;
  settings.quiet = options.quiet;
  settings.schedule = options.schedule;
  settings.out = options.out.empty() ? std::filesystem::path("runs") / (ex->name + "-sample") : std::filesystem::path(options.out);
  return execute(*ex, registry, settings);
}

}  // namespace psl
