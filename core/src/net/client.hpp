// `psl client`: one real PSL client. It gets the resolved manifest from the server,
// recomputes its own shard and its initial client part from the manifest's seed (no
// sample and no initial weight crosses the network), keeps its part and optimizer, and
// updates them itself (docs/protocol.md). With a state folder its part survives a restart.
#pragma once

#include <cstdint>
#include <string>

#include "net/tls_files.hpp"

namespace psl::net {

struct ClientOptions {
  std::string connect;            // HOST:PORT
  std::int64_t id = 0;
  std::string token_file;         // holds this client's token (the server's tokens/client-K.token)
  double connect_timeout_s = 60;  // keep trying (also after a lost connection) this long
  double read_timeout_s = 60;     // no frame for this long: the connection counts as lost
  TlsFiles tls;                   // ca set: TLS, verifying the server; cert and key: mutual TLS
  std::int64_t threads = 1;
  std::string state_dir;          // keep the client part in STATE_DIR/client-K.part (empty: memory only)
  bool quiet = false;
  std::int64_t exit_after_steps = 0;  // fault injection for tests: vanish at the step after N
  std::int64_t exit_at_gradient = 0;  // ... or on receiving the gradient of its N-th step
  std::int64_t parent_pid = 0;        // > 0: end when this process ends (clients psl run starts)
  // transport.emulate_network (psl run passes both from the delay model): every frame held
  // this long before it is written (the link's one-way latency), and the forward and the
  // backward pass each made to last at least half of samples x this.
  double emulate_latency_s = 0;
  double pace_compute_s_per_sample = 0;
};

int run_client(const ClientOptions& options);  // exit status

}  // namespace psl::net
