// The client processes `psl run` starts on loopback for transport.type = "tcp".
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace psl::net {

class ClientProcesses {
 public:
  ~ClientProcesses() { stop(5.0); }
  // Starts `psl ARGS...` (argv[0] included in args); throws std::runtime_error.
  void spawn(const std::vector<std::string>& args);
  // Waits for them to exit (they do on Shutdown); kills what is left after the grace time.
  void stop(double grace_s);

 private:
  std::vector<pid_t> pids_;
};

// 128 random bits as hex, for a run without a token file.
std::string random_token();

}  // namespace psl::net
