#include "checkpoint.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "digest.hpp"
#include "run_folder.hpp"

namespace psl {

namespace {

// Layout: MAGIC "\n" header-json "\n" state-bytes "\nsha256 " hex "\n"; the checksum
// covers every byte before "\nsha256 ".
constexpr std::string_view kMagic = "psl-checkpoint 1\n";
constexpr std::string_view kTrailer = "\nsha256 ";
constexpr std::size_t kHexDigits = 64;

}  // namespace

std::filesystem::path checkpoint_file(const std::filesystem::path& run_dir) { return run_dir / "checkpoint.bin"; }

void write_checkpoint(const std::filesystem::path& run_dir, const Checkpoint& c) {
  const auto& h = c.header;
  const nlohmann::json header = {{"epochs_done", h.epochs_done},         {"global_step", h.global_step},
                                 {"metrics_bytes", h.metrics_bytes},     {"metrics_sha256", h.metrics_sha256},
                                 {"manifest_sha256", h.manifest_sha256}, {"wall_time_s", h.wall_time_s},
                                 {"train_wall_time_s", h.train_wall_time_s}, {"clock_s", h.clock_s},
                                 {"extends_manifest_sha256", h.extends_manifest_sha256},
                                 {"state_bytes", c.state.size()}};
  std::string body;
  body.reserve(c.state.size() + 512);
  body += kMagic;
  body += header.dump();
  body += '\n';
  body += c.state;
  const std::string sum = sha256_hex(body);
  body += kTrailer;
  body += sum;
  body += '\n';
  write_file_atomic(checkpoint_file(run_dir), body);
}

Checkpoint read_checkpoint(const std::filesystem::path& run_dir) {
  const auto file = checkpoint_file(run_dir);
  if (!std::filesystem::exists(file)) {
    if (std::filesystem::exists(run_dir / "checkpoint.pt"))
      throw CheckpointError(fmt::format("{}: the checkpoint was written by an older psl (checkpoint.pt without a "
                                        "checksum) and cannot be verified; start the run again",
                                        run_dir.string()));
    throw CheckpointError(fmt::format("{}: no checkpoint to resume from (a run checkpoints at each epoch end)",
                                      file.string()));
  }
  const std::string bytes = read_file(file);
  auto damaged = [&](const std::string& why) {
    return CheckpointError(fmt::format("{}: the checkpoint is damaged ({}); it cannot be resumed from. Start the run "
                                       "again, or restore the file from a copy",
                                       file.string(), why));
  };
  if (bytes.compare(0, kMagic.size(), kMagic) != 0) throw damaged("it does not start as a psl checkpoint");
  const std::size_t tail = kTrailer.size() + kHexDigits + 1;
  if (bytes.size() < kMagic.size() + tail) throw damaged("too short");
  const std::size_t body_end = bytes.size() - tail;
  if (bytes.compare(body_end, kTrailer.size(), kTrailer) != 0 || bytes.back() != '\n')
    throw damaged("no checksum at its end: the file is truncated or was not written by psl");
  const std::string recorded = bytes.substr(body_end + kTrailer.size(), kHexDigits);
  if (sha256_hex(std::string_view(bytes).substr(0, body_end)) != recorded)
    throw damaged("its SHA-256 does not match the one it was written with");

  const std::size_t header_end = bytes.find('\n', kMagic.size());
  Checkpoint c;
  try {
    const auto j = nlohmann::json::parse(bytes.substr(kMagic.size(), header_end - kMagic.size()));
    auto& h = c.header;
    h.epochs_done = j.at("epochs_done");
    h.global_step = j.at("global_step");
    h.metrics_bytes = j.at("metrics_bytes");
    h.metrics_sha256 = j.at("metrics_sha256");
    h.manifest_sha256 = j.at("manifest_sha256");
    h.wall_time_s = j.at("wall_time_s");
    h.train_wall_time_s = j.at("train_wall_time_s");
    h.clock_s = j.value("clock_s", -1.0);
    h.extends_manifest_sha256 = j.value("extends_manifest_sha256", "");
    const std::size_t state_bytes = j.at("state_bytes");
    if (header_end + 1 + state_bytes != body_end) throw damaged("its state has another length than recorded");
    c.state = bytes.substr(header_end + 1, state_bytes);
  } catch (const nlohmann::json::exception& e) {
    throw damaged(fmt::format("unreadable header: {}", e.what()));
  }
  return c;
}

}  // namespace psl
