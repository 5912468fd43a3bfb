#include "run_claim.hpp"

#include <fmt/format.h>

#include "digest.hpp"
#include "run_check.hpp"
#include "run_folder.hpp"

namespace psl {

std::unique_ptr<FolderLock> claim_run_folder(const RunSettings& settings) {
  const auto& out = settings.out;
  try {
    if (!settings.resume && holds_run(out)) {
      if (!settings.force)
        throw RunRefused(fmt::format(
            "{} holds another run; continue it with `psl run --resume {}`, choose another folder with --out, or "
            "add --force to move it aside (it is kept as {}.replaced-DATE) and start here",
            out.string(), out.string(), out.string()));
      std::filesystem::path aside;
      {
        FolderLock old(out);
        aside = move_aside(out);
      }
      if (!settings.quiet)
        fmt::print(stderr, "--force: the run that was in {} is now in {}\n", out.string(), aside.string());
    }
    return std::make_unique<FolderLock>(out);
  } catch (const FolderBusy& e) {
    throw RunRefused(e.what());
  }
}

ResumePoint verified_resume_point(const std::filesystem::path& out, bool extending) {
  // A summary that the folder's files do not match (an extension stopped before its first
  // epoch end) describes an earlier run, as does an unreadable one: the checkpoint decides.
  if (run_complete(out) && !extending)
    throw RunRefused(fmt::format("{}: the run is complete; there is nothing to resume (`psl run --resume {} --epochs "
                                 "N` continues it to N epochs)",
                                 out.string(), out.string()));
  Checkpoint c;
  try {
    c = read_checkpoint(out);
  } catch (const CheckpointError& e) {
    throw RunRefused(e.what());
  }
  const auto manifest = out / "manifest.toml";
  const std::string manifest_sha256 = std::filesystem::exists(manifest) ? file_sha256(manifest) : "";
  // An extension stopped before it replaced manifest.toml left the checkpoint naming both.
  const bool extension_begun = !c.header.extends_manifest_sha256.empty() &&
                               manifest_sha256 == c.header.extends_manifest_sha256;
  if (manifest_sha256 != c.header.manifest_sha256 && !extension_begun)
    throw RunRefused(fmt::format("{}: manifest.toml was changed after the run started (its checksum differs from "
                                 "the checkpoint's); resuming would mix two setups. Restore it, or start a new run "
                                 "with the changed manifest and another --out",
                                 manifest.string()));
  const auto metrics = out / "metrics.csv";
  const auto size = std::filesystem::exists(metrics) ? std::filesystem::file_size(metrics) : 0;
  if (size < c.header.metrics_bytes)
    throw RunRefused(fmt::format("{}: holds {} bytes, but the checkpoint covers {}: rows the checkpoint relies on "
                                 "are gone; the run cannot resume",
                                 metrics.string(), size, c.header.metrics_bytes));
  if (file_prefix_sha256(metrics, c.header.metrics_bytes) != c.header.metrics_sha256)
    throw RunRefused(fmt::format("{}: its first {} bytes are not the ones the checkpoint recorded (the file was "
                                 "rewritten or another run wrote it); the run cannot resume",
                                 metrics.string(), c.header.metrics_bytes));
  return {std::move(c), manifest_sha256};
}

}  // namespace psl
