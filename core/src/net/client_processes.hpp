// The client processes `psl run` starts on loopback for transport.type = "tcp".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace psl::net {

class ClientProcesses {
 public:
  ~ClientProcesses() { stop(5.0); }
  // Starts `psl ARGS...` (argv[0] included in args) as client `id`, through `wrapper`
  // if given (e.g. `ip netns exec NS`); throws std::runtime_error.
  void spawn(std::int64_t id, std::vector<std::string> args, std::vector<std::string> wrapper = {});
  // Starts client `id` again if its process has ended (crashed, killed): what
  // on_client_loss = "wait" waits for. False if it still runs, was not started here, or
  // has been restarted `max_restarts` times already.
  bool restart_if_ended(std::int64_t id, int max_restarts = 3);
  // Waits for them to exit (they do on Shutdown); kills what is left after the grace time.
  void stop(double grace_s);

 private:
  struct Child {
    pid_t pid = -1;
    std::vector<std::string> args, wrapper;
    int restarts = 0;
  };
  std::map<std::int64_t, Child> children_;
};

}  // namespace psl::net
