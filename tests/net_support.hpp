// Helpers of the tests that talk to a server over raw sockets.
#pragma once

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "net/server.hpp"
#include "net/wire.hpp"

namespace psl::test {

// One whole frame from a socket.
inline net::Frame read_frame(boost::asio::ip::tcp::socket& s) {
  std::array<std::uint8_t, net::kHeaderBytes> header{};
  boost::asio::read(s, boost::asio::buffer(header));
  const auto fh = net::decode_header(header.data());
  net::Frame f{fh.type, std::vector<std::uint8_t>(fh.length)};
  boost::asio::read(s, boost::asio::buffer(f.payload));
  return f;
}

// The lines a server logs, kept for the test to look through (from any thread).
struct ServerLog {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard lock(mutex);
      lines.push_back(line);
    };
  }
  bool has(const std::string& part) {
    std::lock_guard lock(mutex);
    return std::any_of(lines.begin(), lines.end(), [&](const auto& l) { return l.find(part) != std::string::npos; });
  }
};

}  // namespace psl::test
