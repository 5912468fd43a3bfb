// transport.emulate_network: real slow links for real clients on one machine. Each client
// process runs in its own network namespace, on its own veth link into a bridge where the
// server listens; Linux traffic control (tbf) limits each link to the client's bandwidth
// from the delay model, one qdisc per direction. The kernel has no netem, so latency is
// held in the senders (TcpServer's per-client delay, `psl client --emulate-latency`).
// Everything made is removed when this object goes, and by a guard process when the
// run is killed (docs/deployment.md, "Emulated networks").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace psl::net {

class EmulationRefused : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EmulatedLink {
  double up_bytes_per_s = 0, down_bytes_per_s = 0;  // client to server, server to client
};

class EmulatedNetwork {
 public:
  // Builds one link per client. Throws EmulationRefused (not root, no `ip`/`tc`, too many
  // clients) before it changes anything, or std::runtime_error naming the command that
  // failed (after undoing what it made).
  explicit EmulatedNetwork(const std::vector<EmulatedLink>& links);
  ~EmulatedNetwork();
  EmulatedNetwork(const EmulatedNetwork&) = delete;
  EmulatedNetwork& operator=(const EmulatedNetwork&) = delete;

  const std::string& server_address() const { return server_address_; }  // on the bridge
  // The command that runs a program in client k's namespace.
  std::vector<std::string> exec_prefix(std::int64_t client) const;
  std::string namespace_name(std::int64_t client) const;

 private:
  void remove_all() noexcept;
  std::string tag_;                 // unique to this process: names of namespaces and links
  std::string bridge_, server_address_;
  std::int64_t clients_ = 0;
  pid_t guard_ = -1;                // removes everything if this process dies first
  int guard_pipe_ = -1;
};

}  // namespace psl::net
