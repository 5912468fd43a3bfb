// The checkpoint of a run: one file, DIR/checkpoint.bin, written whole (write, sync,
// rename) at each epoch end. It says where the run was, which manifest it belongs to and
// how much of metrics.csv it covers, and ends with a SHA-256 of everything before it, so
// that a damaged or foreign checkpoint is refused instead of resumed from.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace psl {

struct CheckpointHeader {
  std::int64_t epochs_done = 0;
  std::int64_t global_step = 0;
  std::uintmax_t metrics_bytes = 0;  // metrics.csv's length at the checkpoint
  std::string metrics_sha256;        // ... and the checksum of those bytes
  std::string manifest_sha256;       // of the resolved manifest the run was started with
  // Set while a run is being continued to more epochs (run_extension.hpp): the manifest
  // it had before, which manifest.toml still is until the extended one replaces it.
  std::string extends_manifest_sha256;
  double wall_time_s = 0, train_wall_time_s = 0;
  double clock_s = -1;  // the planner's virtual clock, exact (-1: a checkpoint of psl before availability)
};

struct Checkpoint {
  CheckpointHeader header;
  std::string state;  // the trainer's serialized model and optimizer state
};

class CheckpointError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::filesystem::path checkpoint_file(const std::filesystem::path& run_dir);
void write_checkpoint(const std::filesystem::path& run_dir, const Checkpoint& checkpoint);
// Throws CheckpointError naming the file: missing, of an older format, or damaged.
Checkpoint read_checkpoint(const std::filesystem::path& run_dir);

}  // namespace psl
