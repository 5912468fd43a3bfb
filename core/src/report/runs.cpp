#include "report/runs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <regex>

#include "manifest.hpp"
#include "registry.hpp"
#include "run_check.hpp"

namespace psl::report {

namespace fs = std::filesystem;

namespace {

// Runs that differ only in their seed share a group: the resolved manifest without the
// seed (and name) lines.
std::string group_key(const std::string& manifest) {
  static const std::regex drop(R"(^(seed|name|threads) = .*$)", std::regex::multiline);
  return std::regex_replace(manifest, drop, "");
}

// A readable label for a group: its folder name without the seed, or its main settings.
std::string label_for(const Run& r) {
  std::string name = r.dir.filename().string();  // find_runs gives folders without a trailing '/'
  if (name.find('=') != std::string::npos) {
    name = std::regex_replace(name, std::regex(R"((^|,)seed=[^,]*)"), "");
    if (!name.empty() && name[0] == ',') name.erase(0, 1);
    if (!name.empty()) return name;
  }
  const auto& s = r.summary;
  return fmt::format("{}{} K={} B={}", s.protocol == "psl" ? "" : s.protocol + " ", s.sampler, s.num_clients,
                     s.batch_size);
}

// The run's manifest.toml as this psl resolves it (resolve_again), so a run of an older
// psl groups with the same settings run by a newer one instead of differing in "(not set)"
// keys. The file as written when this psl cannot load it (a plugin that is not here).
std::string manifest_resolved_again(const fs::path& file, Registry& registry) {
  try {
    return resolve_again(file, registry);
  } catch (const std::exception&) {
    return read_file(file);
  }
}

}  // namespace

std::vector<Run> find_runs(const std::vector<fs::path>& paths) {
  std::vector<fs::path> dirs;
  for (const auto& given : paths) {
    const fs::path p = given.has_filename() ? given : given.parent_path();  // "runs/x/" is the folder runs/x
    if (!fs::is_directory(p)) throw std::runtime_error(fmt::format("{}: not a folder", p.string()));
    if (fs::exists(p / "summary.json")) dirs.push_back(p);
    std::vector<fs::path> children;
    // Runs moved aside (--force, psl sweep) are kept for the record, not reported.
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_directory() && fs::exists(e.path() / "summary.json") &&
          e.path().filename().string().find(".replaced-") == std::string::npos)
        children.push_back(e.path());
    std::sort(children.begin(), children.end());
    dirs.insert(dirs.end(), children.begin(), children.end());
  }
  if (dirs.empty()) throw std::runtime_error("no run folders (folders with summary.json) found");
  // A number from a folder whose files disagree is not reported (docs/run-folder.md).
  std::string refused;
  for (const auto& d : dirs)
    for (const auto& problem : run_folder_problems(d)) refused += fmt::format("\n  {}: {}", d.string(), problem);
  if (!refused.empty())
    throw std::runtime_error("these run folders do not check out, so they are not reported:" + refused +
                             "\nrun them again (psl sweep reruns such runs) or leave them out");
  std::vector<Run> runs;
  std::map<std::string, std::string> labels;  // group key -> label of its first run
  Registry registry;
  for (const auto& d : dirs) {
    Run r;
    r.dir = d;
    r.summary = read_run_summary(d);
    r.metrics = MetricsLog::read(d / "metrics.csv");
    r.manifest = manifest_resolved_again(d / "manifest.toml", registry);
    const auto key = group_key(r.manifest);
    if (!labels.count(key)) {
      // Two groups never share a label (their runs would be averaged together).
      std::string label = label_for(r);
      for (int n = 2; std::any_of(labels.begin(), labels.end(), [&](const auto& kv) { return kv.second == label; }); ++n)
        label = fmt::format("{} ({})", label_for(r), n);
      labels[key] = label;
    }
    r.group = labels[key];
    runs.push_back(std::move(r));
  }
  return runs;
}

}  // namespace psl::report
