// Helpers shared by the tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "manifest.hpp"
#include "registry.hpp"

namespace psl::test {

// A registry with the bundled plugins loaded (once per test process).
Registry& bundled();

// A fresh empty folder under the system temp folder.
std::filesystem::path temp_dir(const std::string& name);

// Writes `text` to DIR/NAME and returns the path.
std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text);

// A small synthetic experiment that trains in well under a second per epoch.
std::string small_manifest(const std::string& extra_training = "", const std::string& sampler = "ugs");

Experiment load(const std::filesystem::path& file, const std::vector<Override>& overrides = {});

std::string read_text(const std::filesystem::path& file);

// A run folder's metrics.csv without its wall-time column, the only one allowed to differ
// between two runs of one manifest.
std::vector<std::string> metrics_without_wall_time(const std::filesystem::path& run);

// The psl program run with `args` (a shell command line), as a user runs it.
struct PslResult {
  int status = -1;
  std::string output;  // stdout and stderr
};
PslResult run_psl(const std::string& args);

}  // namespace psl::test
