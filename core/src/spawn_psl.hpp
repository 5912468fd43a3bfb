#pragma once
// Starting `psl` itself as a child process: sweep points, TCP clients, benchmark runs.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace psl {

struct ChildOutput {
  std::filesystem::path stdout_to;  // empty: inherit
  bool stderr_too = false;          // send stderr where stdout goes
  bool append = false;              // add to stdout_to instead of replacing it
};

// Starts the psl program next to libpsl_core with `args` (argv[0] included); returns its
// pid. With a `wrapper` (a command found on PATH, e.g. `ip netns exec NS`), runs
// `wrapper... PSL args[1:]...` instead. Throws std::runtime_error naming the program and
// the reason.
pid_t spawn_psl(const std::vector<std::string>& args, const ChildOutput& output = {},
                const std::vector<std::string>& wrapper = {});

}  // namespace psl
