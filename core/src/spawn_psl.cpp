#include "spawn_psl.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>

#include <cstring>
#include <stdexcept>

#include "registry.hpp"

extern char** environ;

namespace psl {

pid_t spawn_psl(const std::vector<std::string>& args, const ChildOutput& output) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  if (!output.stdout_to.empty()) {
    posix_spawn_file_actions_addopen(&files, 1, output.stdout_to.c_str(), O_WRONLY | O_CREAT | (output.append ? O_APPEND : O_TRUNC), 0644);
    if (output.stderr_too) posix_spawn_file_actions_adddup2(&files, 1, 2);
  }
  const auto program = psl_program();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", program.string(), std::strerror(rc)));
  return pid;
}

}  // namespace psl
