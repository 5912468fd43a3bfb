// The TCP server side: one Boost.Asio io_context on its own network thread accepts
// clients, authenticates them, and moves whole frames between the sockets and one
// mailbox per client. The training thread only talks to the mailboxes, so no torch work
// runs on the network thread and a slow step never stalls the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/tls_files.hpp"
#include "net/wire.hpp"

namespace psl::net {

struct Frame {
  MsgType type = MsgType::Heartbeat;
  std::vector<std::uint8_t> payload;
  std::chrono::steady_clock::time_point received_at{};  // when the whole frame had arrived
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  std::string token;                   // master secret: client k presents client_token(token, k)
  std::string run_id;                  // clients that name another run are refused
  std::string manifest_text;           // sent to each client in Welcome
  std::int64_t num_clients = 0;
  double handshake_timeout_s = 10;     // to finish TLS and Hello
  double ready_timeout_s = 300;        // from Welcome to Ready (the client loads its data)
  double heartbeat_s = 5;              // idle clients hear from the server this often
  std::uint32_t max_frame_bytes = kMaxFrameBytes;
  // What a peer that has not authenticated may cost: one small frame, and a share of
  // the connections.
  std::uint32_t max_handshake_bytes = 16u << 10;
  int max_unauthenticated = 64;
  bool tls = false;  // TLS 1.3 with tls_files (a CA in them: clients need certificates)
  TlsFiles tls_files;
  std::function<void(const std::string&)> log;  // one line per event worth knowing
  // transport.emulate_network: per client, how long every frame `send` gives it is held
  // before it is written (the link's one-way latency; empty: none).
  std::vector<double> hold_s;
};

class TcpServer {
 public:
  explicit TcpServer(ServerOptions options);  // throws std::runtime_error if it cannot listen
  ~TcpServer();

  std::string address() const;  // HOST:PORT actually listened on
  std::uint16_t port() const;

  // Queues a frame for the client's current connection (dropped if it has none).
  void send(std::int64_t client, MsgType type, std::vector<std::uint8_t> payload);

  enum class Result { Frame, Lost, Timeout };
  // The next frame from the client; Lost if its connection is gone (or goes while waiting).
  Result receive(std::int64_t client, double timeout_s, Frame& out);
  // Connected means ready: handshake done and the client has said Ready (its data loaded).
  bool connected(std::int64_t client) const;
  // The client's latest connection to say Ready: a number that changes with each new one,
  // and the version of the client part it reported holding.
  struct Connection {
    std::uint64_t number = 0;  // 0: never connected
    std::int64_t part_version = 0;
  };
  Connection connection(std::int64_t client) const;
  // Waits until the client is connected (again); false on timeout.
  bool wait_connected(std::int64_t client, double timeout_s);
  // Waits until every client is connected; returns the ids still missing after the timeout.
  std::vector<std::int64_t> wait_all_connected(double timeout_s);
  // The bytes of every frame written to and read from all connections so far.
  struct Bytes {
    std::uint64_t sent = 0, received = 0;
  };
  Bytes bytes() const;
  // Tells every connected client the run is over and closes the connections.
  void shutdown_all(const std::string& reason);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace psl::net
