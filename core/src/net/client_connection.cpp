#include "net/client_connection.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <openssl/x509.h>
#include <thread>

#include "net/tls.hpp"

namespace psl::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct ClientConnection::Impl {
  Impl(const TlsFiles& tls, double timeout_s)
      : tls_on(!tls.ca.empty()),
        context(tls_on ? client_tls_context(tls) : ssl::context(ssl::context::tls_client)),
        stream(io, context),
        timeout(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s))) {}

  // Runs one asynchronous operation to its end or to the time limit.
  template <class Start>
  void finish(Start start, const std::string& what) {
    boost::system::error_code result = asio::error::would_block;
    start([&result](const boost::system::error_code& ec, auto&&...) { result = ec; });
    io.restart();
    io.run_for(timeout);
    if (result == asio::error::would_block) {
      boost::system::error_code ignored;
      stream.next_layer().close(ignored);  // completes the operation with an error
      io.restart();
      io.run();
      throw boost::system::system_error(asio::error::timed_out,
                                        fmt::format("{}: nothing for {:g} s", what, std::chrono::duration<double>(timeout).count()));
    }
    if (result) throw boost::system::system_error(result, what);
  }

  template <class Buffers>
  void read_exactly(const Buffers& buffers, const std::string& what) {
    finish([&](auto handler) {
      if (tls_on) asio::async_read(stream, buffers, handler);
      else asio::async_read(stream.next_layer(), buffers, handler);
    }, what);
  }

  bool tls_on;
  asio::io_context io;
  ssl::context context;
  ssl::stream<tcp::socket> stream;
  std::chrono::steady_clock::duration timeout;
};

ClientConnection::ClientConnection(const std::string& address, const TlsFiles& tls, double timeout_s)
    : impl_(std::make_unique<Impl>(tls, timeout_s)) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument(fmt::format("'{}' is not HOST:PORT", address));
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  tcp::resolver resolver(impl_->io);
  const auto endpoints = resolver.resolve(host, address.substr(colon + 1));
  impl_->finish([&](auto handler) { asio::async_connect(impl_->stream.next_layer(), endpoints, handler); },
                fmt::format("connecting to {}", address));
  impl_->stream.next_layer().set_option(tcp::no_delay(true));
  if (!impl_->tls_on) return;
  // The server's certificate must be for the host we dialled.
  impl_->stream.set_verify_callback(ssl::host_name_verification(host));
  SSL_set_tlsext_host_name(impl_->stream.native_handle(), host.c_str());
  try {
    impl_->finish([&](auto handler) { impl_->stream.async_handshake(ssl::stream_base::client, handler); },
                  fmt::format("TLS handshake with {}", address));
  } catch (const boost::system::system_error& e) {
    // A certificate problem does not go away by retrying: not a system_error.
    const long verify = SSL_get_verify_result(impl_->stream.native_handle());
    if (verify != X509_V_OK)
      throw std::runtime_error(fmt::format(
          "TLS handshake with {} failed: the server's certificate does not check out: {} (it must be signed by the CA "
          "of --tls-ca and name the host {})",
          address, X509_verify_cert_error_string(verify), host));
    const std::string error = e.code().message();
    const std::string hint = tls_failure_hint(error);
    if (!hint.empty()) throw std::runtime_error(fmt::format("TLS handshake with {} failed: {}{}", address, error, hint));
    throw;
  }
}

ClientConnection::~ClientConnection() = default;

void ClientConnection::write(MsgType type, const std::vector<std::uint8_t>& payload) {
  if (hold_s_ > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold_s_));
  const auto header = encode_header(type, std::uint32_t(payload.size()));
  const std::array buffers{asio::buffer(header), asio::buffer(payload)};
  impl_->finish([&](auto handler) {
    if (impl_->tls_on) asio::async_write(impl_->stream, buffers, handler);
    else asio::async_write(impl_->stream.next_layer(), buffers, handler);
  }, fmt::format("sending {}", to_string(type)));
}

std::pair<MsgType, std::vector<std::uint8_t>> ClientConnection::read() {
  std::array<std::uint8_t, kHeaderBytes> header{};
  impl_->read_exactly(asio::buffer(header), "waiting for the server");
  FrameHeader h;
  try {
    h = decode_header(header.data());
  } catch (const ProtocolError& e) {
    if (!impl_->tls_on && header[0] == 0x15 && header[1] == 0x03)
      throw ProtocolError(fmt::format("{}: the server speaks TLS; give --tls-ca (and --tls-cert, --tls-key if it asks "
                                      "for a client certificate)", e.what()));
    throw;
  }
  std::vector<std::uint8_t> payload(h.length);
  impl_->read_exactly(asio::buffer(payload), fmt::format("reading a {} frame", to_string(h.type)));
  return {h.type, std::move(payload)};
}

}  // namespace psl::net
