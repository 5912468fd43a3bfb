#include "net/emulated_network.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <set>

extern char** environ;

namespace psl::net {

namespace {

// Runs a shell command line built here from generated names and numbers only; throws
// with the command and what it printed if it fails.
void run(const std::string& command) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error(fmt::format("cannot run '{}': {}", command, std::strerror(errno)));
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) out += buf.data();
  const int status = ::pclose(p);
  if (status != 0)
    throw std::runtime_error(fmt::format("emulated network: '{}' failed: {}", command,
                                         out.empty() ? "no message" : out.substr(0, out.find_last_not_of('\n') + 1)));
}

std::string output_of(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return "";
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) out += buf.data();
  ::pclose(p);
  return out;
}

// A /16 of 10.0.0.0/8 that no interface of this machine uses yet.
int free_subnet() {
  const std::string used = output_of("ip -o -4 addr show");
  for (int x = 200; x < 255; ++x)
    if (used.find(fmt::format(" 10.{}.", x)) == std::string::npos) return x;
  throw EmulationRefused("emulated network: every subnet 10.200-254.0.0/16 is in use on this machine");
}

// tbf for a rate in bytes per second: a burst of about 5 ms (at least two frames of 1500
// bytes) and a queue of about 2 s, so that TCP slows down rather than loses packets.
std::string tbf(double bytes_per_s) {
  const auto bits = std::int64_t(bytes_per_s * 8);
  const auto burst = std::max<std::int64_t>(3200, std::int64_t(bytes_per_s * 0.005));
  const auto limit = std::max<std::int64_t>(200000, std::int64_t(bytes_per_s * 2));
  return fmt::format("root tbf rate {}bit burst {} limit {}", bits, burst, limit);
}

}  // namespace

EmulatedNetwork::EmulatedNetwork(const std::vector<EmulatedLink>& links) : clients_(std::int64_t(links.size())) {
  if (::geteuid() != 0)
    throw EmulationRefused(
        "transport.emulate_network needs root (network namespaces and traffic control); run psl as root, or set "
        "transport.emulate_network = false");
  if (output_of("command -v ip").empty() || output_of("command -v tc").empty())
    throw EmulationRefused("transport.emulate_network needs `ip` and `tc` (Debian package iproute2)");
  if (clients_ > 250 * 250) throw EmulationRefused("transport.emulate_network supports up to 62500 clients");
  tag_ = fmt::format("psl{:x}", ::getpid());
  bridge_ = tag_ + "br";

  // The guard: a shell that waits for this process to close its end of a pipe (on exit,
  // or when the kernel closes it after a kill) and then removes what may be left.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  const std::string script = fmt::format(
      "trap '' INT TERM HUP; read _; ip link del {} 2>/dev/null; k=0; while [ $k -lt {} ]; do ip netns del {}-$k "
      "2>/dev/null; k=$((k+1)); done",
      bridge_, clients_, tag_);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  const int rc = posix_spawn(&guard_, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  guard_pipe_ = fds[1];
  if (rc != 0) {
    ::close(guard_pipe_);
    throw std::runtime_error(fmt::format("cannot start the emulated network's guard: {}", std::strerror(rc)));
  }

  try {
    // Two runs choosing a subnet at once would choose the same one: one at a time.
    const int lock = ::open("/run/lock/psl-emulated-network.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock >= 0) ::flock(lock, LOCK_EX);
    const int x = free_subnet();
    server_address_ = fmt::format("10.{}.0.1", x);
    run(fmt::format("ip link add {} type bridge && ip addr add {}/16 dev {} && ip link set {} up", bridge_,
                    server_address_, bridge_, bridge_));
    if (lock >= 0) ::close(lock);
    for (std::int64_t k = 0; k < clients_; ++k) {
      const std::string ns = namespace_name(k), host = fmt::format("{}h{}", tag_, k), peer = fmt::format("{}c{}", tag_, k);
      const std::string address = fmt::format("10.{}.{}.{}", x, 1 + k / 250, 1 + k % 250);
      const auto& link = links[std::size_t(k)];
      run(fmt::format("ip netns add {} && ip link add {} type veth peer name {} netns {} && ip link set {} master {} && "
                      "ip link set {} up",
                      ns, host, peer, ns, host, bridge_, host));
      run(fmt::format("ip -n {} addr add {}/16 dev {} && ip -n {} link set {} up && ip -n {} link set lo up", ns,
                      address, peer, ns, peer, ns));
      // Egress of the host end is the client's downlink; egress of its own end, its uplink.
      run(fmt::format("tc qdisc add dev {} {} && tc -n {} qdisc add dev {} {}", host, tbf(link.down_bytes_per_s), ns,
                      peer, tbf(link.up_bytes_per_s)));
    }
  } catch (...) {
    remove_all();
    throw;
  }
}

EmulatedNetwork::~EmulatedNetwork() { remove_all(); }

std::string EmulatedNetwork::namespace_name(std::int64_t client) const { return fmt::format("{}-{}", tag_, client); }

std::vector<std::string> EmulatedNetwork::exec_prefix(std::int64_t client) const {
  return {"ip", "netns", "exec", namespace_name(client)};
}

void EmulatedNetwork::remove_all() noexcept {
  if (guard_ < 0) return;
  // Deleting a namespace deletes the veth end in it, and with it the host end.
  try {
    std::string command = fmt::format("ip link del {} 2>/dev/null;", bridge_);
    for (std::int64_t k = 0; k < clients_; ++k) command += fmt::format(" ip netns del {} 2>/dev/null;", namespace_name(k));
    output_of(command);
  } catch (...) {  // the guard tries again
  }
  ::close(guard_pipe_);  // the guard wakes, finds nothing left, and ends
  int status;
  ::waitpid(guard_, &status, 0);
  guard_ = -1;
}

}  // namespace psl::net
