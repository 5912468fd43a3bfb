// The psl subcommands. Each returns the process exit status: 0 success, 1 run failure,
// 2 bad input (manifest, command line), 3 not built.
#pragma once

#include <string>
#include <vector>

#include "manifest.hpp"

namespace psl {

struct RunOptions {
  std::string manifest;
  std::string out;
  std::vector<std::string> sets;
  std::string resume;
  std::string schedule;
  std::string listen;
  std::int64_t stop_after_epochs = 0;
  std::int64_t epochs = 0;  // with resume: continue the run to this many epochs
  bool force = false;
  int parent_pid = 0;  // --exit-with-parent
  bool quiet = false;
};

int command_validate(const RunOptions& options);
int command_plugins(const std::string& kind);
int command_run(const RunOptions& options);
int command_sample(const RunOptions& options);
int command_serve(const RunOptions& options);

// Loads the manifest with its --set overrides; prints every error and returns nullopt
// on bad input.
std::optional<Experiment> load_or_report(const std::string& manifest, const std::vector<std::string>& sets,
                                         Registry& registry);

}  // namespace psl
