// TLS 1.3 for the transport (docs/deployment.md): the files a server and a client use,
// the Boost.Asio contexts made from them, and the ephemeral certificates `psl run` makes
// for the clients it starts itself.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "net/tls_files.hpp"

namespace psl::net {

// The subject common name a client certificate must carry to act as client `id`.
std::string client_common_name(std::int64_t id);

// TLS 1.3 only. Throws std::runtime_error naming the file that cannot be used.
boost::asio::ssl::context server_tls_context(const TlsFiles& files);
boost::asio::ssl::context client_tls_context(const TlsFiles& files);

// The common name of the peer's certificate, or "" if it presented none.
std::string peer_common_name(SSL* ssl);

// A CA, a server certificate for `hosts` (DNS names or IP addresses) and one client
// certificate per id, written to DIR (keys readable only by this user). Valid 30 days.
struct EphemeralPki {
  TlsFiles server;                    // cert, key, ca
  std::vector<TlsFiles> clients;      // per id: cert, key, ca
};
EphemeralPki make_ephemeral_pki(const std::filesystem::path& dir, const std::vector<std::string>& hosts,
                                std::int64_t num_clients);

// A short hint for an OpenSSL handshake error that usually means the two ends disagree
// on TLS itself (one side plain TCP).
std::string tls_failure_hint(const std::string& error);

}  // namespace psl::net
