#include "spawn_psl.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>

#include <cstring>
#include <stdexcept>

#include "registry.hpp"

extern char** environ;

namespace psl {

pid_t spawn_psl(const std::vector<std::string>& args, const ChildOutput& output,
                const std::vector<std::string>& wrapper) {
  const auto program = psl_program();
  std::vector<std::string> line = wrapper;
  if (!wrapper.empty()) line.push_back(program.string());
  line.insert(line.end(), wrapper.empty() ? args.begin() : args.begin() + 1, args.end());
  std::vector<char*> argv;
  for (const auto& a : line) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (!output.stdout_to.empty()) {
    posix_spawn_file_actions_addopen(&files, 1, output.stdout_to.c_str(), O_WRONLY | O_CREAT | (output.append ? O_APPEND : O_TRUNC), 0644);
    if (output.stderr_too) posix_spawn_file_actions_adddup2(&files, 1, 2);
  }
  pid_t pid = -1;
  const int rc = wrapper.empty() ? posix_spawn(&pid, program.c_str(), &files, nullptr, argv.data(), environ)
                                 : posix_spawnp(&pid, wrapper[0].c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0)
    throw std::runtime_error(fmt::format("cannot start {}: {}", wrapper.empty() ? program.string() : wrapper[0],
                                         std::strerror(rc)));
  return pid;
}

}  // namespace psl
