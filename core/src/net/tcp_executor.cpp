#include "net/tcp_executor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <chrono>

#include "net/credentials.hpp"
#include "net/tokens.hpp"
#include "run_folder.hpp"

namespace psl::net {

TcpExecutor::TcpExecutor(const Experiment& ex, const RunSettings& settings, TrainingSetup setup, std::int64_t num_classes)
    : settings_(settings) {
  const auto& tr = ex.transport_settings;
  const std::int64_t K = ex.training_settings.clients;
  ServerOptions so;
  so.listen = settings.listen.empty() ? tr.listen : settings.listen;
  if (tr.emulate_network) {
    if (!settings.spawn_clients)
      throw RunRefused("transport.emulate_network needs psl run, which starts each client in its own network "
                       "namespace; psl serve with clients started by hand cannot");
    std::vector<EmulatedLink> links;
    for (const auto& t : setup.timings) {
      links.push_back({t.uplink_bytes_per_s, t.downlink_bytes_per_s});
      so.hold_s.push_back(t.latency_s);
    }
    try {
      network_ = std::make_unique<EmulatedNetwork>(links);
    } catch (const EmulationRefused& e) {
      throw RunRefused(e.what());
    }
    so.listen = network_->server_address() + ":0";
  }
  ServerCredentials credentials;
  try {
    credentials = prepare_credentials(ex, settings.out, so.listen, settings.resume, settings.spawn_clients);
  } catch (const CredentialsRefused& e) {
    throw RunRefused(e.what());
  }
  so.token = credentials.master_token;
  so.tls = credentials.tls;
  so.tls_files = credentials.server;
  so.manifest_text = to_toml(ex);
  so.run_id = run_id_of(so.manifest_text);
  so.num_clients = K;
  so.handshake_timeout_s = tr.handshake_timeout_s;
  so.ready_timeout_s = tr.ready_timeout_s;
  const bool quiet = settings.quiet;
  so.log = [quiet](const std::string& line) {
    if (!quiet) fmt::print(stderr, "server: {}\n", line);
  };
  try {
    server_ = std::make_unique<TcpServer>(so);
  } catch (const std::exception& e) {
    throw RunError(e.what());
  }
  const std::string address = server_->address();
  write_file_atomic(settings.out / "server.txt", address + "\n");
  if (!quiet)
    fmt::print(stderr, "server: listening on {}{} (client tokens in {})\n", address, so.tls ? " with TLS" : "",
               credentials.tokens_dir.string());

  if (settings.spawn_clients) {
    clients_ = std::make_unique<ClientProcesses>();
    for (std::int64_t k = 0; k < K; ++k) {
      std::vector<std::string> args = {"psl",         "client", "--connect",
                                       address,       "--id",   std::to_string(k),
                                       "--token-file", client_token_file(credentials.tokens_dir, k).string(),
                                       "--quiet",     "--exit-with-parent", std::to_string(::getpid()),
                                       "--state-dir", (settings.out / "client-parts").string()};
      if (network_) {
        const auto& t = setup.timings.at(std::size_t(k));
        args.insert(args.end(), {"--emulate-latency", fmt::format("{}", t.latency_s), "--pace-compute",
                                 fmt::format("{}", t.compute_s_per_sample)});
      }
      if (so.tls) {
        const auto& files = credentials.clients.at(std::size_t(k));
        args.insert(args.end(), {"--tls-ca", files.ca, "--tls-cert", files.cert, "--tls-key", files.key});
      }
      clients_->spawn(k, std::move(args), network_ ? network_->exec_prefix(k) : std::vector<std::string>{});
    }
  }
  // Clients started by hand may take a while; spawned ones get two minutes.
  const double patience = settings.spawn_clients ? 120.0 : 24 * 3600.0;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto missing = server_->wait_all_connected(10.0);
    if (missing.empty()) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > patience)
      throw RunError(fmt::format("clients {} did not connect to {}", fmt::join(missing, ", "), address));
    if (!quiet) fmt::print(stderr, "server: waiting for {} client(s): {}\n", missing.size(), fmt::join(missing, ", "));
  }
  RemoteOptions ro;
  ro.on_client_loss = tr.on_client_loss;
  ro.step_timeout_s = tr.step_timeout_s;
  ro.max_value = tr.max_client_value;
  ro.activation_shape = setup.activation_shape;
  ro.num_classes = num_classes;
  RemoteHooks hooks;
  hooks.log = so.log;
  hooks.restart = [this, log = so.log](std::int64_t k) {
    if (clients_ && clients_->restart_if_ended(k)) log(fmt::format("client {}'s process had ended; started it again", k));
  };
  const auto& t = setup.settings;
  const auto optimizer = optimizer_settings(t);
  auto parts = std::make_unique<RemoteClientParts>(*server_, ro, std::move(hooks), setup.shape.clients,
                                                   setup.network.client,
                                                   with_lr_scale(optimizer, setup.shape.client_lr_scale), K);
  remote_ = parts.get();
  trainer_ = std::make_unique<Trainer>(setup.network.server, server_replica(setup), optimizer, std::move(parts),
                                       setup.shape, setup.client_sizes, t.eval_batch_size);
}

// Without stop() the clients are not told: their connections just close, as if the
// server had died (what --stop-after-epochs simulates), and they try to reconnect.
TcpExecutor::~TcpExecutor() = default;

StepOutcome TcpExecutor::execute(const PlannedStep& step) {
  StepOutcome out;
  lost_samples_ += step.lost;
  if (step.takes.empty()) return out;
  const auto before = remote_->phase_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    out.loss = trainer_->step(step);  // NaN if every client of the step was lost
  } catch (const ClientLost& e) {
    throw RunError(fmt::format("{}; the last checkpoint is in {} (psl run --resume {})", e.what(),
                               settings_.out.string(), settings_.out.string()));
  }
  // The rest of the step is the server's own pass (and a fedavg average).
  const auto& after = remote_->phase_seconds();
  server_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() -
               (after.activations - before.activations) - (after.client_gradients - before.client_gradients);
  auto events = remote_->take_events();
  out.dropped = std::move(events.dropped);
  out.latencies = std::move(events.latencies);
  for (const auto& l : out.latencies) {
    if (observed_s_.size() <= std::size_t(l.client)) observed_s_.resize(std::size_t(l.client) + 1), observed_steps_.resize(observed_s_.size());
    observed_s_[std::size_t(l.client)] += l.seconds;
    observed_steps_[std::size_t(l.client)] += 1;
  }
  out.bytes = events.bytes;
  if (std::isinf(out.loss)) throw RunError(fmt::format("the loss is {} at step {}: lower training.lr", out.loss, step.step));
  return out;
}

void TcpExecutor::stop(const std::string& reason) {
  if (server_) server_->shutdown_all(reason);
  if (clients_) clients_->stop(10.0);
  clients_.reset();
}

void TcpExecutor::describe(RunSummary& s) const {
  const auto frames = server_->bytes();
  s.frame_bytes_sent = frames.sent;
  s.frame_bytes_received = frames.received;
  for (std::size_t k = 0; k < observed_s_.size(); ++k)
    s.observed_step_s.push_back(observed_steps_[k] > 0 ? observed_s_[k] / observed_steps_[k] : NAN);
  s.dropped_clients = remote_->dropped_clients();
  const auto& p = remote_->phase_seconds();
  s.remote_phase_s = RemotePhaseSeconds{p.activations, server_s_, p.client_gradients};
  s.lost_samples = lost_samples_;
  s.latency_source = "observed";
}

}  // namespace psl::net
