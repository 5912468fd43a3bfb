#include "run_extension.hpp"

#include <fmt/format.h>

#include "digest.hpp"
#include "run_folder.hpp"

namespace psl {

std::string why_not_extendable(const Experiment& ex) {
  const auto& t = ex.training_settings;
  if (t.lr_schedule != LrSchedule::Constant)
    return fmt::format("its learning rate follows the '{}' schedule over all its epochs, so more epochs would change "
                       "the rates it was trained with",
                       to_string(t.lr_schedule));
  if (t.max_steps > 0) return fmt::format("it ends at max_steps = {}, not at an epoch's end", t.max_steps);
  if (ex.transport_settings.type == TransportKind::Tcp)
    return "it trains over TCP (continuing to more epochs is built for simulated clients only)";
  return "";
}

void begin_extension(const std::filesystem::path& run_dir, ResumePoint& point, const std::string& manifest_text) {
  const std::string sha = sha256_hex(manifest_text);
  Checkpoint c = point.checkpoint;
  c.header.manifest_sha256 = sha;
  c.header.extends_manifest_sha256 = point.manifest_sha256;
  write_checkpoint(run_dir, c);
  write_file_atomic(run_dir / "manifest.toml", manifest_text);
  point.checkpoint = std::move(c);
  point.manifest_sha256 = sha;
}

}  // namespace psl
