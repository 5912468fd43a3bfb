// The client's end of one connection to the server: plain TCP or TLS 1.3, whole frames,
// and a time limit on every read and write, so that a server that stops answering is
// noticed instead of waited for.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/tls_files.hpp"
#include "net/wire.hpp"

namespace psl::net {

class ClientConnection {
 public:
  // Connects to HOST:PORT (and finishes the TLS handshake, verifying the server's
  // certificate against tls.ca, when tls.ca is set). Throws boost::system::system_error
  // on network failures (worth retrying) and std::runtime_error on bad settings.
  ClientConnection(const std::string& address, const TlsFiles& tls, double timeout_s);
  ~ClientConnection();

  void write(MsgType type, const std::vector<std::uint8_t>& payload);
  // Every later write waits this long first: an emulated link's one-way latency.
  void hold_writes(double seconds) { hold_s_ = seconds; }
  // The next frame; a system_error with timed_out if none arrives within the timeout.
  std::pair<MsgType, std::vector<std::uint8_t>> read();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  double hold_s_ = 0;
};

}  // namespace psl::net
