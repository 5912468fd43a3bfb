#include "net/server.hpp"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "net/tls.hpp"
#include "net/tokens.hpp"

namespace psl::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
std::pair<std::string, std::string> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error(fmt::format("'{}' is not HOST:PORT", address));
  std::string host = address.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, address.substr(colon + 1)};
}

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// Payloads are read in pieces of this size, so memory grows with the bytes that arrive,
// not with the length a header announces.
constexpr std::size_t kReadChunk = 1u << 20;
}  // namespace

struct OutgoingFrame {
  FrameHeaderBytes header;
  std::vector<std::uint8_t> payload;
};

struct Mailbox {
  std::deque<Frame> frames;
  std::uint64_t session = 0;  // the live connection's id; 0: none
  bool ready = false;         // its client has said Ready: steps may be sent
  std::uint64_t readies = 0;  // how many times a connection of the client has said Ready
  std::int64_t part_version = 0;  // the part version its latest Ready reported
};

struct TcpServer::Impl {
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl& server, tcp::socket socket, std::uint64_t id)
        : server(server), stream(std::move(socket), server.tls_context), timer(server.io), id(id) {
      boost::system::error_code ec;
      auto ep = stream.next_layer().remote_endpoint(ec);
      peer = ec ? "unknown peer" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    }

    tcp::socket& socket() { return stream.next_layer(); }

    // The same reads and writes over TLS or plain TCP.
    // Both count the frame bytes that crossed (TLS adds its records on top).
    template <class Buffers, class Handler>
    void read(const Buffers& buffers, Handler&& handler) {
      auto counted = [&total = server.bytes_received, h = std::forward<Handler>(handler)](auto ec, std::size_t n) mutable {
        total += n;
        h(ec, n);
      };
      if (server.options.tls) asio::async_read(stream, buffers, std::move(counted));
      else asio::async_read(socket(), buffers, std::move(counted));
    }
    template <class Buffers, class Handler>
    void write(const Buffers& buffers, Handler&& handler) {
      auto counted = [&total = server.bytes_sent, h = std::forward<Handler>(handler)](auto ec, std::size_t n) mutable {
        total += n;
        h(ec, n);
      };
      if (server.options.tls) asio::async_write(stream, buffers, std::move(counted));
      else asio::async_write(socket(), buffers, std::move(counted));
    }

    void start() {
      arm_timer(server.options.handshake_timeout_s, "no handshake within the timeout");
      if (!server.options.tls) return read_header();
      stream.async_handshake(ssl::stream_base::server, [self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) {
          const std::string error = ec.message(), hint = tls_failure_hint(error);
          if (hint.find("plain TCP") != std::string::npos) return self->refuse_plain_peer(error + hint);
          return self->close(fmt::format("TLS handshake failed: {}{}", error, hint));
        }
        self->read_header();
      });
    }

    // A plain-TCP client cannot read a TLS alert: tell it in its own protocol, then close.
    void refuse_plain_peer(const std::string& why) {
      auto frame = std::make_shared<std::vector<std::uint8_t>>(encode_frame(
          MsgType::Reject, encode_text(MsgType::Reject, "this server requires TLS: give psl client --tls-ca (and "
                                                        "--tls-cert, --tls-key for a client certificate)")));
      asio::async_write(socket(), asio::buffer(*frame), [self = shared_from_this(), frame, why](auto, std::size_t) {
        self->close("TLS handshake failed: " + why);
      });
    }

    void arm_timer(double timeout_s, std::string reason) {
      timer.expires_after(seconds(timeout_s));
      timer.async_wait([self = shared_from_this(), reason = std::move(reason)](const boost::system::error_code& ec) {
        if (!ec) self->close(reason);
      });
    }

    void read_header() {
      read(asio::buffer(header), [self = shared_from_this()](auto ec, std::size_t) {
        if (ec) return self->close(ec == asio::error::eof ? "disconnected" : ec.message());
        try {
          // Before it has authenticated a peer may send one small frame, nothing more.
          const auto limit = self->client < 0 ? self->server.options.max_handshake_bytes : self->server.options.max_frame_bytes;
          const auto h = decode_header(self->header.data(), limit);
          self->frame.type = h.type;
          self->frame.payload.clear();
          self->expected = h.length;
          self->read_payload();
        } catch (const ProtocolError& e) {
          std::string why = e.what();
          if (self->header[0] == 0x16 && self->header[1] == 0x03) why += " (a TLS client? this server runs plain TCP)";
          self->close(why);
        }
      });
    }

    void read_payload() {
      const std::size_t have = frame.payload.size();
      if (have == expected) return deliver_frame();
      const std::size_t chunk = std::min(kReadChunk, expected - have);
      frame.payload.resize(have + chunk);
      read(asio::buffer(frame.payload.data() + have, chunk), [self = shared_from_this()](auto ec, std::size_t) {
        if (ec) return self->close(ec == asio::error::eof ? "disconnected mid-frame" : ec.message());
        self->read_payload();
      });
    }

    void deliver_frame() {
      try {
        handle(std::move(frame));
      } catch (const ProtocolError& e) {
        return close(e.what());
      }
      frame = Frame{};
      if (socket().is_open()) read_header();
    }

    void handle(Frame f) {
      if (client < 0) return handshake(f);
      if (f.type == MsgType::Heartbeat) return;
      if (f.type == MsgType::Ready) {
        if (ready) throw ProtocolError("a second Ready");
        const std::int64_t version = decode_ready(f.payload);
        ready = true;
        timer.cancel();
        return server.mark_ready(client, id, version);
      }
      if (f.type == MsgType::Error) return close("client reported: " + decode_text(f.payload));
      if (f.type != MsgType::Activations && f.type != MsgType::ClientGrads && f.type != MsgType::StepDone &&
          f.type != MsgType::PartWeights && f.type != MsgType::PartState)
        throw ProtocolError(fmt::format("unexpected {} frame from a client", to_string(f.type)));
      server.deliver(client, id, std::move(f));
    }

    void handshake(const Frame& f) {
      if (f.type != MsgType::Hello) throw ProtocolError(fmt::format("expected Hello, got {}", to_string(f.type)));
      const Hello h = decode_hello(f.payload);
      std::string refusal;
      if (h.version != kProtocolVersion)
        refusal = fmt::format("protocol version {} is not supported (server speaks {})", h.version, kProtocolVersion);
      else if (h.client < 0 || h.client >= server.options.num_clients)
        refusal = fmt::format("client id {} is out of range [0, {})", h.client, server.options.num_clients);
      else if (!same_secret(h.token, client_token(server.options.token, h.client)))
        refusal = fmt::format("wrong token for client {}", h.client);
      else if (!h.run_id.empty() && h.run_id != server.options.run_id)
        refusal = fmt::format("run id {} is not this run ({})", h.run_id, server.options.run_id);
      else if (server.options.tls && !server.options.tls_files.ca.empty()) {
        // Mutual TLS: the certificate names the one client id it may act as.
        const auto name = peer_common_name(stream.native_handle());
        if (name != client_common_name(h.client))
          refusal = fmt::format("the client certificate is for '{}', not for client {}", name, h.client);
      }
      if (refusal.empty() && !server.attach(h.client, id))
        refusal = fmt::format("client {} is already connected", h.client);
      if (!refusal.empty()) {
        send(MsgType::Reject, encode_text(MsgType::Reject, refusal));
        // Posted after the send, so the Reject is queued before the close looks.
        asio::post(server.io, [self = shared_from_this(), refusal] { self->close("refused: " + refusal, true); });
        return;
      }
      client = h.client;
      server.stop_counting_unauthenticated(*this);
      arm_timer(server.options.ready_timeout_s,
                fmt::format("did not say Ready within {} s of its handshake", server.options.ready_timeout_s));
      server.log(fmt::format("client {} connected from {}{}", client, peer, server.options.tls ? " (TLS)" : ""));
      send(MsgType::Welcome, encode_text(MsgType::Welcome, server.options.manifest_text));
    }

    // Writes are queued so that frames never interleave on the socket.
    void send(MsgType type, std::vector<std::uint8_t> payload) {
      auto frame = std::make_shared<OutgoingFrame>(OutgoingFrame{encode_header(type, std::uint32_t(payload.size())),
                                                                 std::move(payload)});
      asio::post(server.io, [self = shared_from_this(), frame] { self->queue_frame(frame); });
    }
    // Network thread only: a frame written once `due` has passed, after those held before it.
    void hold_frame(std::shared_ptr<OutgoingFrame> frame, std::chrono::steady_clock::time_point due) {
      held.emplace_back(due, std::move(frame));
      if (held.size() == 1) release_held();
    }
    void release_held() {
      while (!held.empty() && held.front().first <= std::chrono::steady_clock::now()) {
        queue_frame(std::move(held.front().second));
        held.pop_front();
      }
      if (held.empty()) return;
      hold_timer.expires_at(held.front().first);
      hold_timer.async_wait([self = shared_from_this()](auto ec) {
        if (!ec) self->release_held();
      });
    }
    // Network thread only.
    void queue_frame(std::shared_ptr<OutgoingFrame> frame) {
      queue.push_back(std::move(frame));
      if (queue.size() == 1) write_next();
    }

    void write_next() {
      if (queue.empty() || !socket().is_open()) return;
      const auto& f = *queue.front();
      const std::array buffers{asio::buffer(f.header), asio::buffer(f.payload)};
      write(buffers, [self = shared_from_this()](auto ec, std::size_t) {
        if (ec) return self->close("write failed: " + ec.message());
        self->queue.pop_front();
        if (self->queue.empty() && self->closing) return self->close(self->close_reason);
        self->write_next();
      });
    }

    // after_writes: let queued frames (a Reject, a Shutdown) go out first.
    void close(const std::string& reason, bool after_writes = false) {
      if (after_writes && !queue.empty()) {
        closing = true;
        close_reason = reason;
        return;
      }
      if (!socket().is_open()) return;
      boost::system::error_code ignored;
      socket().shutdown(tcp::socket::shutdown_both, ignored);
      socket().close(ignored);
      timer.cancel();
      hold_timer.cancel();
      server.log(client >= 0 ? fmt::format("client {} ({}): connection closed: {}", client, peer, reason)
                             : fmt::format("{}: connection closed: {}", peer, reason));
      server.stop_counting_unauthenticated(*this);
      if (client >= 0) server.detach(client, id);
    }

    Impl& server;
    ssl::stream<tcp::socket> stream;
    asio::steady_timer timer;
    asio::steady_timer hold_timer{server.io};
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<OutgoingFrame>>> held;
    std::uint64_t id;
    std::int64_t client = -1;
    bool ready = false;
    bool counted_unauthenticated = true;
    std::string peer;
    std::array<std::uint8_t, kHeaderBytes> header{};
    Frame frame;
    std::size_t expected = 0;
    std::deque<std::shared_ptr<OutgoingFrame>> queue;
    bool closing = false;
    std::string close_reason;
  };

  explicit Impl(ServerOptions o)
      : options(std::move(o)),
        tls_context(options.tls ? server_tls_context(options.tls_files) : ssl::context(ssl::context::tls_server)),
        acceptor(io),
        accept_retry(io),
        heartbeat(io),
        mailboxes(std::size_t(options.num_clients)) {
    auto [host, port] = split_host_port(options.listen);
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, port, ec);
    if (ec || results.empty())
      throw std::runtime_error(fmt::format("cannot resolve listen address '{}': {}", options.listen, ec.message()));
    const tcp::endpoint endpoint = *results.begin();
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}: {}", options.listen, ec.message()));
    acceptor.listen();
    accept();
    beat();
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    asio::post(io, [this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      for (auto& [id, s] : sessions)
        if (auto p = s.lock()) p->close("server stopped");
    });
    io.stop();
    if (thread.joinable()) thread.join();
  }

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;  // the server stops
      if (ec) {
        // Out of file descriptors, or a transient network error: say so and try again
        // later, so that one bad moment never stops the server from accepting for good.
        log(fmt::format("accepting a connection failed: {}; retrying in {} ms", ec.message(), accept_backoff_ms));
        accept_retry.expires_after(std::chrono::milliseconds(accept_backoff_ms));
        accept_backoff_ms = std::min(accept_backoff_ms * 2, 2000);
        accept_retry.async_wait([this](const boost::system::error_code& e) {
          if (!e) accept();
        });
        return;
      }
      accept_backoff_ms = 50;
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (unauthenticated >= options.max_unauthenticated) {
        log(fmt::format("{} connections have not authenticated yet; a new one is closed", unauthenticated));
        socket.close(ignored);
        return accept();
      }
      auto s = std::make_shared<Session>(*this, std::move(socket), ++next_session);
      sessions[s->id] = s;
      ++unauthenticated;
      s->start();
      accept();
    });
  }

  // Sessions idle for a step (waiting for others, an evaluation) still hear from the
  // server, so a client can tell a slow run from a dead server by its read timeout.
  void beat() {
    heartbeat.expires_after(seconds(options.heartbeat_s));
    heartbeat.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      for (auto it = sessions.begin(); it != sessions.end();) {
        auto s = it->second.lock();
        if (!s) {
          it = sessions.erase(it);
          continue;
        }
        if (s->client >= 0 && s->socket().is_open() && s->queue.empty()) s->send(MsgType::Heartbeat, {});
        ++it;
      }
      beat();
    });
  }

  // Network thread: a session leaves the count of unauthenticated connections once,
  // when it authenticates or when it closes, whichever comes first.
  void stop_counting_unauthenticated(Session& s) {
    if (std::exchange(s.counted_unauthenticated, false)) --unauthenticated;
  }

  bool attach(std::int64_t client, std::uint64_t session) {
    std::lock_guard lock(mutex);
    auto& box = mailboxes[std::size_t(client)];
    if (box.session != 0) return false;
    box.session = session;
    box.ready = false;
    box.frames.clear();
    changed.notify_all();
    return true;
  }
  void detach(std::int64_t client, std::uint64_t session) {
    std::lock_guard lock(mutex);
    auto& box = mailboxes[std::size_t(client)];
    if (box.session == session) box.session = 0, box.ready = false;
    changed.notify_all();
  }
  void mark_ready(std::int64_t client, std::uint64_t session, std::int64_t version) {
    std::lock_guard lock(mutex);
    auto& box = mailboxes[std::size_t(client)];
    if (box.session != session) return;
    box.ready = true;
    box.part_version = version;
    ++box.readies;
    changed.notify_all();
  }
  void deliver(std::int64_t client, std::uint64_t session, Frame f) {
    f.received_at = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    auto& box = mailboxes[std::size_t(client)];
    if (box.session != session) return;  // from a connection that has been replaced
    box.frames.push_back(std::move(f));
    changed.notify_all();
  }
  void log(const std::string& line) {
    if (options.log) options.log(line);
  }

  ServerOptions options;
  asio::io_context io;
  std::atomic<std::uint64_t> bytes_sent{0}, bytes_received{0};  // on every connection, frames only
  ssl::context tls_context;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  asio::steady_timer heartbeat;
  int accept_backoff_ms = 50;
  int unauthenticated = 0;  // network thread only
  std::thread thread;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;  // network thread only
  std::uint64_t next_session = 0;
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::vector<Mailbox> mailboxes;
};

TcpServer::TcpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
TcpServer::~TcpServer() = default;

std::uint16_t TcpServer::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string TcpServer::address() const {
  const auto ep = impl_->acceptor.local_endpoint();
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

void TcpServer::send(std::int64_t client, MsgType type, std::vector<std::uint8_t> payload) {
  // The training thread does not wait for the network thread: the frame is addressed to
  // the client's connection of this moment and queued there (dropped if it has closed).
  std::uint64_t id;
  {
    std::lock_guard lock(impl_->mutex);
    id = impl_->mailboxes[std::size_t(client)].session;
  }
  if (id == 0) return;
  auto frame = std::make_shared<OutgoingFrame>(OutgoingFrame{encode_header(type, std::uint32_t(payload.size())),
                                                             std::move(payload)});
  const auto& hold = impl_->options.hold_s;
  const double hold_s = std::size_t(client) < hold.size() ? hold[std::size_t(client)] : 0.0;
  const auto due = std::chrono::steady_clock::now() +
                   std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(hold_s));
  asio::post(impl_->io, [impl = impl_.get(), id, frame, hold_s, due] {
    const auto it = impl->sessions.find(id);  // sessions: network thread only
    if (it == impl->sessions.end()) return;
    if (auto session = it->second.lock()) {
      if (hold_s > 0) session->hold_frame(frame, due);
      else session->queue_frame(frame);
    }
  });
}

TcpServer::Result TcpServer::receive(std::int64_t client, double timeout_s, Frame& out) {
  std::unique_lock lock(impl_->mutex);
  auto& box = impl_->mailboxes[std::size_t(client)];
  const bool ready = impl_->changed.wait_for(lock, std::chrono::duration<double>(timeout_s),
                                             [&] { return !box.frames.empty() || box.session == 0; });
  if (!box.frames.empty()) {
    out = std::move(box.frames.front());
    box.frames.pop_front();
    return Result::Frame;
  }
  return ready ? Result::Lost : Result::Timeout;
}

TcpServer::Bytes TcpServer::bytes() const { return {impl_->bytes_sent.load(), impl_->bytes_received.load()}; }

bool TcpServer::connected(std::int64_t client) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->mailboxes[std::size_t(client)].ready;
}

TcpServer::Connection TcpServer::connection(std::int64_t client) const {
  std::lock_guard lock(impl_->mutex);
  const auto& box = impl_->mailboxes[std::size_t(client)];
  return {box.readies, box.part_version};
}

bool TcpServer::wait_connected(std::int64_t client, double timeout_s) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, std::chrono::duration<double>(timeout_s),
                                 [&] { return impl_->mailboxes[std::size_t(client)].ready; });
}

std::vector<std::int64_t> TcpServer::wait_all_connected(double timeout_s) {
  std::unique_lock lock(impl_->mutex);
  auto all = [&] {
    for (const auto& b : impl_->mailboxes)
      if (!b.ready) return false;
    return true;
  };
  impl_->changed.wait_for(lock, std::chrono::duration<double>(timeout_s), all);
  std::vector<std::int64_t> missing;
  for (std::size_t k = 0; k < impl_->mailboxes.size(); ++k)
    if (!impl_->mailboxes[k].ready) missing.push_back(std::int64_t(k));
  return missing;
}

void TcpServer::shutdown_all(const std::string& reason) {
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(impl_->io, [&] {
    for (auto& [id, weak] : impl_->sessions)
      if (auto s = weak.lock(); s && s->client >= 0 && s->socket().is_open()) {
        s->send(MsgType::Shutdown, encode_text(MsgType::Shutdown, reason));
        asio::post(impl_->io, [s] { s->close("run finished", true); });
      }
    done.set_value();
  });
  finished.wait();
}

}  // namespace psl::net
