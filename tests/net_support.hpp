// Helpers of the tests that talk to a server over raw sockets.
#pragma once

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "server_part.hpp"
#include "net/remote_client_parts.hpp"
#include "net/server.hpp"
#include "net/wire.hpp"
#include "psl/api/split_model.hpp"
#include "trainer.hpp"

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

// A trainer whose client parts are real clients of `server` (shared sync), as the TCP
// executor builds it.
struct RemoteRig {
  std::unique_ptr<Trainer> trainer;
  net::RemoteClientParts* parts = nullptr;
  std::vector<std::vector<std::int64_t>> gradient_shapes;  // the client part's parameters
  std::vector<std::int64_t> activation_shape;               // one sample's
  // The server's copy of the shared client part, cloned.
  std::vector<at::Tensor> client_weights() const {
    std::vector<at::Tensor> out;
    for (const auto& p : parts->evaluation_part({})->parameters()) out.push_back(p.detach().clone());
    return out;
  }
};
inline RemoteRig remote_rig(net::TcpServer& server, const SplitModel& model, const std::vector<std::int64_t>& sample_shape,
                            std::int64_t classes, std::int64_t clients, net::RemoteOptions options,
                            net::RemoteHooks hooks, const OptimizerSettings& o = {}) {
  RemoteRig rig;
  auto net = model.build(sample_shape, classes);
  for (const auto& p : net.client->parameters()) rig.gradient_shapes.push_back(p.sizes().vec());
  rig.activation_shape = measure_activation_shape(net.client, sample_shape);
  options.activation_shape = rig.activation_shape;
  options.num_classes = classes;
  auto parts = std::make_unique<net::RemoteClientParts>(server, options, std::move(hooks), PartLayout::Shared,
                                                        net.client, o, clients);
  rig.parts = parts.get();
  std::vector<std::int64_t> sizes(std::size_t(clients), 1);
  rig.trainer = std::make_unique<Trainer>(net.server, nullptr, o, std::move(parts), ProtocolShape{}, sizes, 256);
  return rig;
}

}  // namespace psl::test
