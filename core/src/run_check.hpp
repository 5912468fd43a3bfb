// Whether the files of a run folder belong together (docs/run-folder.md): the checksums
// summary.json was written with against manifest.toml and metrics.csv, and its counts
// against the rows. `psl report` refuses a folder with problems; `psl sweep` runs it again.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace psl {

// One line per disagreement; empty when the folder is consistent.
std::vector<std::string> run_folder_problems(const std::filesystem::path& dir);

// A run counts as done only if its summary says so and its files check out.
bool run_complete(const std::filesystem::path& run);

}  // namespace psl
