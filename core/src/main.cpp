// The psl program: one binary, one subcommand per job. This file only wires the command
// line; the subcommands live in commands_run.cpp (run, sample, serve),
// commands_inspect.cpp (validate, plugins), net/client.cpp (client), sweep.cpp and
// sweep_slurm.cpp (sweep) and report/report.cpp (report).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands.hpp"
#include "net/client.hpp"
#include "report/report.hpp"
#include "sweep.hpp"

int main(int argc, char** argv) {
  CLI::App app{"psl: parallel split learning experiments (simulated or over TCP)"};
  app.set_version_flag("--version", std::string("psl ") + PSL_VERSION);
  app.require_subcommand(1);
  app.footer("Run `psl COMMAND --help` for the options of one command. Docs: docs/user-guide.md");

  psl::RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "train a manifest's experiment and write its run folder");
  run_cmd->add_option("manifest", run.manifest, "experiment manifest (TOML); not needed with --resume");
  run_cmd->add_option("--out", run.out, "run folder (default: runs/NAME)");
  run_cmd->add_option("--set", run.sets, "override one manifest key: KEY.PATH=VALUE");
  run_cmd->add_option("--resume", run.resume, "continue the run in this folder from its last checkpoint");
  run_cmd->add_option("--epochs", run.epochs, "with --resume: continue the run, complete or not, to N epochs")
      ->check(CLI::PositiveNumber);
  run_cmd->add_flag("--force", run.force, "the --out folder holds another run: move it aside (kept) and start anew");
  run_cmd->add_flag("--quiet", run.quiet, "no progress output");
  run_cmd->add_option("--stop-after-epochs", run.stop_after_epochs,
                      "stop after N epochs, checkpoint written; --resume continues later");
  run_cmd->add_option("--exit-with-parent", run.parent_pid, "end when process PID ends (psl sweep passes its own)");

  psl::RunOptions sample;
  auto* sample_cmd = app.add_subcommand("sample", "sampling and time model only, no training");
  sample_cmd->add_option("manifest", sample.manifest, "experiment manifest (TOML)")->required();
  sample_cmd->add_option("--out", sample.out, "run folder (default: runs/NAME-sample)");
  sample_cmd->add_option("--set", sample.sets, "override one manifest key: KEY.PATH=VALUE");
  sample_cmd->add_option("--schedule", sample.schedule, "write every (epoch, step, client, count) to this CSV");
  sample_cmd->add_flag("--force", sample.force, "the --out folder holds another run: move it aside (kept)");
  sample_cmd->add_flag("--quiet", sample.quiet, "no progress output");

  psl::RunOptions validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a manifest and print it resolved");
  validate_cmd->add_option("manifest", validate.manifest, "experiment manifest (TOML)")->required();
  validate_cmd->add_option("--set", validate.sets, "override one manifest key: KEY.PATH=VALUE");
  validate_cmd->add_flag("--quiet", validate.quiet, "print nothing when the manifest is valid");

  std::string kind;
  auto* plugins_cmd = app.add_subcommand("plugins", "list every component with its parameters");
  plugins_cmd->add_option("kind", kind, "dataset, partitioner, model, sampler, delay, training or transport");

  psl::RunOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "run the PSL server and wait for real clients over TCP");
  serve_cmd->add_option("manifest", serve.manifest, "experiment manifest (TOML); not needed with --resume");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (default: transport.listen)");
  serve_cmd->add_option("--out", serve.out, "run folder (default: runs/NAME)");
  serve_cmd->add_option("--set", serve.sets, "override one manifest key: KEY.PATH=VALUE");
  serve_cmd->add_option("--resume", serve.resume, "continue the run in this folder from its last checkpoint");
  serve_cmd->add_flag("--force", serve.force, "the --out folder holds another run: move it aside (kept)");
  serve_cmd->add_flag("--quiet", serve.quiet, "no progress output");
  serve_cmd->add_option("--stop-after-epochs", serve.stop_after_epochs,
                        "fault injection: stop after N epochs as if killed (the clients are not told)");

  psl::net::ClientOptions client;
  auto* client_cmd = app.add_subcommand("client", "run one PSL client against a server");
  client_cmd->add_option("--connect", client.connect, "the server's HOST:PORT")->required();
  client_cmd->add_option("--id", client.id, "this client's id, 0..K-1")->required()->check(CLI::NonNegativeNumber);
  client_cmd->add_option("--token-file", client.token_file, "file holding this client's token (server's tokens/client-K.token)");
  client_cmd->add_option("--read-timeout", client.read_timeout_s,
                         "seconds without a frame from the server before the connection counts as lost (default 60)");
  client_cmd->add_option("--tls-ca", client.tls.ca, "connect with TLS; the CA file that signed the server's certificate");
  client_cmd->add_option("--tls-cert", client.tls.cert, "this client's certificate (PEM), if the server asks for one");
  client_cmd->add_option("--tls-key", client.tls.key, "its private key (PEM)");
  client_cmd->add_option("--connect-timeout", client.connect_timeout_s,
                         "seconds to keep trying to (re)connect (default 60)");
  client_cmd->add_option("--threads", client.threads, "torch threads (default 1)");
  client_cmd->add_option("--state-dir", client.state_dir,
                         "keep this client's part of the model in DIR/client-K.part, so that a restarted client "
                         "goes on where it stopped (local and fedavg sync; psl run passes RUN/client-parts)");
  client_cmd->add_flag("--quiet", client.quiet, "no progress output");
  client_cmd->add_option("--exit-after-steps", client.exit_after_steps,
                         "fault injection: disconnect without a word at the step after N");
  client_cmd->add_option("--exit-at-gradient", client.exit_at_gradient,
                         "fault injection: disconnect without a word on the gradient of the N-th step");
  client_cmd->add_option("--exit-with-parent", client.parent_pid,
                         "end when process PID ends (psl run passes its own, so its clients never outlive it)");
  client_cmd->add_option("--emulate-latency", client.emulate_latency_s,
                         "hold every frame this many seconds before sending it (transport.emulate_network)")
      ->check(CLI::NonNegativeNumber);
  client_cmd->add_option("--pace-compute", client.pace_compute_s_per_sample,
                         "make each pass take at least half of samples x this many seconds (transport.emulate_network)")
      ->check(CLI::NonNegativeNumber);

  psl::SweepOptions sweep;
  auto* sweep_cmd = app.add_subcommand("sweep", "run the grid of a manifest's [sweep] table");
  sweep_cmd->add_option("manifest", sweep.manifest, "experiment manifest with a [sweep] table");
  sweep_cmd->add_option("--out", sweep.out, "sweep folder (default: runs/NAME-sweep)");
  sweep_cmd->add_option("--set", sweep.sets, "override one manifest key for every run: KEY.PATH=VALUE");
  sweep_cmd->add_option("--jobs", sweep.jobs, "runs at a time (default 1); each gets cores/jobs threads");
  sweep_cmd->add_flag("--quiet", sweep.quiet, "no progress output");
  sweep_cmd->add_option("--launcher", sweep.launcher, "local (default): runs here, --jobs at a time; slurm: one job array")
      ->check(CLI::IsMember({"local", "slurm"}));
  sweep_cmd->add_option("--slurm-opt", sweep.slurm_opts,
                        "KEY=VALUE passed to sbatch as --KEY=VALUE (partition, time, cpus-per-task, mem, account)");
  sweep_cmd->add_option("--status", sweep.status_dir, "show each run of the sweep in DIR: complete, running, pending, failed");

  psl::report::ReportOptions report;
  auto* report_cmd = app.add_subcommand("report", "compare runs and sweeps in an HTML or Markdown report");
  report_cmd->add_option("folders", report.paths, "run folders or sweep folders")->required();
  report_cmd->add_option("-o,--output", report.output, "output file (default: standard output)");
  report_cmd->add_option("--format", report.format, "html or md")->check(CLI::IsMember({"html", "md"}));
  report_cmd->add_option("--band", report.band, "shaded band over seeds: std (mean ± 1 std, default) or minmax")
      ->check(CLI::IsMember({"std", "minmax"}));
  report_cmd->add_option("--target", report.target,
                         "test accuracy in percent: steps and simulated time until each run first reaches it")
      ->check(CLI::Range(0.0, 100.0));
  report_cmd->add_option("--csv", report.csv_dir, "also write the tables and curves as CSV files into DIR");
  report_cmd->add_option("--figures", report.figures_dir, "also write each figure as an SVG file into DIR");

  CLI11_PARSE(app, argc, argv);

  if (*run_cmd) return psl::command_run(run);
  if (*sample_cmd) return psl::command_sample(sample);
  if (*validate_cmd) return psl::command_validate(validate);
  if (*plugins_cmd) return psl::command_plugins(kind);
  if (*serve_cmd) return psl::command_serve(serve);
  if (*client_cmd) return psl::net::run_client(client);
  if (*sweep_cmd) return psl::command_sweep(sweep);
  if (*report_cmd) return psl::report::command_report(report);
  return 0;
}
