#include <fmt/format.h>

#include "commands.hpp"

namespace psl {

int command_run(const RunOptions&) {
  fmt::print(stderr, "psl run: not built yet\n");
  return 3;
}
int command_sample(const RunOptions&) {
  fmt::print(stderr, "psl sample: not built yet\n");
  return 3;
}

}  // namespace psl
