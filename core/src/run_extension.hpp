// Continuing a run to more epochs than its manifest had (`psl run --resume DIR --epochs N`,
// and `psl sweep` when only `epochs` grew): it goes on from its last checkpoint and ends
// with the numbers of a run started with N epochs. That holds only where nothing trained
// before the checkpoint depended on the number of epochs; other runs are refused.
#pragma once

#include <filesystem>
#include <string>

#include "manifest.hpp"
#include "run_claim.hpp"

namespace psl {

// "" when the run of `ex` can be continued to more epochs; otherwise why not.
std::string why_not_extendable(const Experiment& ex);

// Makes `run_dir` the run of `manifest_text` (the run's manifest with more epochs), from
// `point` on; sets point.manifest_sha256 to the new manifest's. The checkpoint is
// rewritten first, naming both manifests, then manifest.toml is replaced: stopped in
// between, the folder still holds the earlier run, and either can be resumed.
void begin_extension(const std::filesystem::path& run_dir, ResumePoint& point, const std::string& manifest_text);

}  // namespace psl
