// Taking a run folder for a run (docs/run-folder.md): one writer, no run on top of
// another, and a checkpoint that checks out against the folder before a resume trusts
// it. Every refusal throws RunRefused and leaves the folder as it was.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "checkpoint.hpp"
#include "run_lock.hpp"
#include "run_settings.hpp"

namespace psl {

// Locks settings.out for this process. A fresh run into a folder holding a run is
// refused, or with settings.force the old run is moved aside first.
std::unique_ptr<FolderLock> claim_run_folder(const RunSettings& settings);

struct ResumePoint {
  Checkpoint checkpoint;
  std::string manifest_sha256;  // of manifest.toml as it is, the checkpoint's (or the one it extends)
};
// The checkpoint of the run in `run_dir`, checked: intact, of this manifest.toml, and
// covering bytes of metrics.csv that are still there unchanged; the run not complete,
// unless `extending` it to more epochs.
ResumePoint verified_resume_point(const std::filesystem::path& run_dir, bool extending = false);

}  // namespace psl
