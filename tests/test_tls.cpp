// TLS on the transport: what crosses the wire, and who is let in.
// torch (through net/wire.hpp) defines glog's CHECK; Catch's must come after it.
#include "net/client_connection.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "net/tokens.hpp"
#include "net_support.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <boost/asio.hpp>
#include <mutex>
#include <thread>

using namespace psl;
using namespace psl::net;
using Catch::Matchers::Contains;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Forwards one connection to the server and keeps every byte the client sent.
class Relay {
 public:
  explicit Relay(std::uint16_t server_port) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, server_port] {
      tcp::socket client(io_), server(io_);
      acceptor_.accept(client);
      server.connect({asio::ip::make_address("127.0.0.1"), server_port});
      std::thread back([&] { pump(server, client, nullptr); });
      pump(client, server, &seen_);
      back.join();
    });
  }
  ~Relay() { thread_.join(); }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void pump(tcp::socket& from, tcp::socket& to, std::string* record) {
    std::array<char, 4096> buffer{};
    boost::system::error_code ec;
    for (;;) {
      const auto n = from.read_some(asio::buffer(buffer), ec);
      if (ec) break;
      if (record) {
        std::lock_guard lock(mutex_);
        record->append(buffer.data(), n);
      }
      asio::write(to, asio::buffer(buffer.data(), n), ec);
      if (ec) break;
    }
    to.shutdown(tcp::socket::shutdown_both, ec);
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::string seen_;
};

// A two-client server with master secret "master", over TLS with the pki's server files.
ServerOptions server_options(bool tls, const EphemeralPki& pki) {
  ServerOptions o;
  o.token = "master";
  o.num_clients = 2;
  o.manifest_text = "name = \"x\"";
  o.tls = tls;
  o.tls_files = pki.server;
  return o;
}

// The bytes a client's Hello (with its token) puts on the wire, with or without TLS.
std::string wire_bytes_of_hello(bool tls, const EphemeralPki& pki, MsgType& answer) {
  TcpServer server(server_options(tls, pki));
  Relay relay(server.port());
  {
    ClientConnection c(fmt::format("127.0.0.1:{}", relay.port()), tls ? pki.clients[1] : TlsFiles{}, 10);
    c.write(MsgType::Hello, encode(Hello{kProtocolVersion, "", 1, client_token("master", 1)}));
    answer = c.read().first;
  }
  server.shutdown_all("done");
  return relay.seen();
}

}  // namespace

TEST_CASE("over TLS the token is not on the wire", "[tls]") {
  const auto dir = test::temp_dir("tls-wire");
  const auto pki = make_ephemeral_pki(dir, {"127.0.0.1"}, 2);
  const std::string token = client_token("master", 1);
  MsgType answer{};
  // The check can fail: in plain TCP the relay does see the token.
  CHECK(wire_bytes_of_hello(false, pki, answer).find(token) != std::string::npos);
  CHECK(answer == MsgType::Welcome);
  const auto seen = wire_bytes_of_hello(true, pki, answer);
  CHECK(answer == MsgType::Welcome);
  CHECK(seen.size() > token.size());
  CHECK(seen.find(token) == std::string::npos);
  CHECK(seen.find("psl-client") == std::string::npos);  // TLS 1.3 encrypts the client certificate too
}

TEST_CASE("TLS refuses a plain peer, an untrusted certificate and a certificate for another id", "[tls]") {
  const auto dir = test::temp_dir("tls-refuse");
  const auto pki = make_ephemeral_pki(dir / "a", {"127.0.0.1"}, 2);
  const auto other = make_ephemeral_pki(dir / "b", {"127.0.0.1"}, 2);
  test::ServerLog log;
  ServerOptions o = server_options(true, pki);
  o.log = log.sink();
  TcpServer server(o);
  const auto address = fmt::format("127.0.0.1:{}", server.port());
  auto logged = [&](const std::string& part) {  // the server logs asynchronously
    for (int i = 0; i < 100 && !log.has(part); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return log.has(part);
  };
  auto hello = [&](const TlsFiles& files, std::int64_t id) {
    ClientConnection c(address, files, 5);
    c.write(MsgType::Hello, encode(Hello{kProtocolVersion, "", id, client_token("master", id)}));
    auto [type, payload] = c.read();
    return std::make_pair(type, decode_text(payload));
  };

  SECTION("a plain-TCP client") {
    const auto answer = hello({}, 0);
    CHECK(answer.first == MsgType::Reject);
    CHECK_THAT(answer.second, Contains("this server requires TLS: give psl client --tls-ca"));
    CHECK(logged("TLS handshake failed") );
    CHECK(logged("plain TCP, not TLS"));
  }
  SECTION("a client whose certificate another CA signed") {
    TlsFiles files = other.clients[0];
    files.ca = pki.server.ca;  // it trusts the server, the server does not trust it
    CHECK_THROWS(hello(files, 0));
    CHECK(logged("TLS handshake failed"));
  }
  SECTION("a server whose certificate the client's CA did not sign") {
    CHECK_THROWS_WITH(hello(other.clients[0], 0), Contains("the server's certificate does not check out") && Contains("--tls-ca"));
  }
  SECTION("client 0's certificate presented as client 1") {
    const auto answer = hello(pki.clients[0], 1);
    CHECK(answer.first == MsgType::Reject);
    CHECK(answer.second == "the client certificate is for 'psl-client-0', not for client 1");
  }
  SECTION("the right certificate") {
    CHECK(hello(pki.clients[1], 1).first == MsgType::Welcome);
  }
}

TEST_CASE("psl client gives up on a server that never answers", "[tls][client]") {
  asio::io_context io;
  tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});  // accepts, says nothing
  const auto r = test::run_psl(fmt::format("client --connect 127.0.0.1:{} --id 0 --read-timeout 1 --connect-timeout 2",
                                           silent.local_endpoint().port()));
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Contains("waiting for the server: nothing for 1 s"));
  CHECK_THAT(r.output, Contains("giving up"));
}

TEST_CASE("plain TCP off loopback is refused unless the manifest says insecure", "[tls][cli]") {
  const auto dir = test::temp_dir("tls-off-loopback");
  const auto m = test::write_file(dir, "m.toml", test::small_manifest());
  const auto r = test::run_psl("serve " + m.string() + " --quiet --listen 0.0.0.0:0 --out " + (dir / "run").string() +
                               " --set transport.type=tcp");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Contains("would listen on 0.0.0.0:0 without TLS") && Contains("transport.insecure = true"));
  CHECK_FALSE(std::filesystem::exists(dir / "run" / "token"));  // refused before writing a secret
}
