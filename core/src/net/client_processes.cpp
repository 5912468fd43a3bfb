#include "net/client_processes.hpp"

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "spawn_psl.hpp"

namespace psl::net {

void ClientProcesses::spawn(std::int64_t id, std::vector<std::string> args, std::vector<std::string> wrapper) {
  const pid_t pid = spawn_psl(args, {}, wrapper);
  children_[id] = Child{pid, std::move(args), std::move(wrapper), 0};
}

bool ClientProcesses::restart_if_ended(std::int64_t id, int max_restarts) {
  auto it = children_.find(id);
  if (it == children_.end() || it->second.pid < 0) return false;
  auto& child = it->second;
  int status;
  if (waitpid(child.pid, &status, WNOHANG) == 0) return false;  // still running
  child.pid = -1;
  if (child.restarts >= max_restarts) return false;
  ++child.restarts;
  child.pid = spawn_psl(child.args, {}, child.wrapper);
  return true;
}

void ClientProcesses::stop(double grace_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(grace_s);
  for (auto& [id, child] : children_) {
    if (child.pid < 0) continue;
    int status;
    while (waitpid(child.pid, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  children_.clear();
}

}  // namespace psl::net
