#include "net/credentials.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>

#include "net/tls.hpp"
#include "net/tokens.hpp"
#include "run_folder.hpp"

namespace psl::net {

namespace fs = std::filesystem;

namespace {

fs::path manifest_relative(const Experiment& ex, const std::string& file) {
  fs::path path(file);
  return path.is_relative() ? ex.file.parent_path() / path : path;
}

// transport.token_file, the one a resumed run had (so that its clients can reconnect),
// or a new random one, created readable by this user only.
std::string master_token(const Experiment& ex, const fs::path& run_dir, bool resume) {
  if (const auto& file = ex.transport_settings.token_file; !file.empty()) {
    const auto path = manifest_relative(ex, file);
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot read transport.token_file", path.string()));
    std::string token;
    std::getline(in, token);
    if (token.empty()) throw std::runtime_error(fmt::format("{}: the token file is empty", path.string()));
    return token;
  }
  const auto file = run_dir / "token";
  if (resume && fs::exists(file)) {
    std::string token;
    std::ifstream(file) >> token;
    return token;
  }
  const std::string token = random_token();
  write_file_atomic(file, token + "\n", 0600);
  return token;
}

struct ListenHost {
  std::string name;
  bool loopback = false;
  bool any = false;  // 0.0.0.0 or ::, every address of the host
};

ListenHost listen_host(const std::string& listen) {
  ListenHost h;
  h.name = listen.substr(0, listen.rfind(':'));
  if (h.name.size() > 1 && h.name.front() == '[') h.name = h.name.substr(1, h.name.size() - 2);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(h.name, ec);
  h.loopback = h.name == "localhost" || (!ec && address.is_loopback());
  h.any = !ec && address.is_unspecified();
  return h;
}

}  // namespace

ServerCredentials prepare_credentials(const Experiment& ex, const fs::path& run_dir, const std::string& listen,
                                      bool resume, bool spawn_clients) {
  const auto& tr = ex.transport_settings;
  const std::int64_t K = ex.training_settings.clients;
  const auto host = listen_host(listen);
  ServerCredentials c;
  c.tls = tr.tls;
  const auto &cert = tr.tls_cert, &key = tr.tls_key, &ca = tr.tls_ca;
  const bool own_files = !cert.empty() || !key.empty() || !ca.empty();
  // An emulated network's bridge (emulated_network.hpp) exists only inside this machine.
  if (!c.tls && !host.loopback && !tr.insecure && !tr.emulate_network)
    throw CredentialsRefused(fmt::format(
        "the server would listen on {} without TLS: the token, labels, activations and gradients would cross the "
        "network in clear. Set transport.tls = true (docs/deployment.md), or transport.insecure = true on a network "
        "you trust",
        listen));
  if (c.tls && own_files && spawn_clients)
    throw CredentialsRefused("psl run starts its own clients and gives them certificates it makes itself: leave "
                             "transport.tls_cert, tls_key and tls_ca empty, or use psl serve with clients started by "
                             "hand");

  c.master_token = master_token(ex, run_dir, resume);
  c.tokens_dir = write_client_tokens(run_dir / "tokens", c.master_token, K);
  if (!c.tls) return c;
  if (own_files) {
    c.server = {manifest_relative(ex, cert).string(), manifest_relative(ex, key).string(),
                ca.empty() ? "" : manifest_relative(ex, ca).string()};
    return c;
  }
  const auto dir = run_dir / "tls";
  if (resume && fs::exists(dir / "server.pem")) {  // the clients trust this CA already
    c.server = {(dir / "server.pem").string(), (dir / "server.key").string(), (dir / "ca.pem").string()};
    for (std::int64_t k = 0; k < K; ++k)
      c.clients.push_back({(dir / fmt::format("client-{}.pem", k)).string(),
                           (dir / fmt::format("client-{}.key", k)).string(), c.server.ca});
    return c;
  }
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  // Clients dial the listen address (an IP or a name); for "any" they must dial one of
  // the names above or bring certificates of their own.
  if (!host.loopback && !host.any && !host.name.empty()) hosts.push_back(host.name);
  const auto pki = make_ephemeral_pki(dir, hosts, K);
  c.server = pki.server;
  c.clients = pki.clients;
  return c;
}

}  // namespace psl::net
