// Who may join a run with real clients: the master secret and each client's token, and
// the TLS files of the server and of the clients `psl run` starts (docs/deployment.md).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "manifest.hpp"
#include "net/tls_files.hpp"

namespace psl::net {

struct ServerCredentials {
  std::string master_token;
  std::filesystem::path tokens_dir;  // RUN/tokens/client-K.token
  bool tls = false;
  TlsFiles server;                   // with a CA: clients need certificates
  std::vector<TlsFiles> clients;     // per id, when psl made them (RUN/tls)
};

// The settings do not allow the server to start (plain TCP off loopback, certificate
// files with clients psl starts itself). Nothing has been written.
class CredentialsRefused : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads or makes the credentials of a run in `run_dir`: transport.token_file or a random
// master secret (kept by a resumed run), per-client tokens, and with transport.tls the
// manifest's certificate files or an ephemeral CA (kept by a resumed run). Checks first,
// then writes: a refusal leaves the folder as it was.
ServerCredentials prepare_credentials(const Experiment& experiment, const std::filesystem::path& run_dir,
                                      const std::string& listen, bool resume, bool spawn_clients);

}  // namespace psl::net
