#include "report/runs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>

#include "manifest.hpp"
#include "registry.hpp"
#include "report/settings.hpp"
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

// The label of runs that differ in nothing but their seed: the folder name without the
// seed, or the main settings.
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

// The whole text as one number ("0.05", "1e-3", "-2"), if it is one.
std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() ? std::optional<double>(value) : std::nullopt;
}

}  // namespace

bool numbers_by_value_less(const std::string& a, const std::string& b) {
  // Whole numbers by value, after any text that is not one ("(not set)" first). Two
  // classes keep the order strict and weak, which std::sort needs: compared by value
  // with some texts and by digits with others, "9" < "1e1" < "1f" < "9" would be a cycle.
  const auto x = as_number(a), y = as_number(b);
  if (x.has_value() != y.has_value()) return y.has_value();
  if (x && y && *x != *y) return *x < *y;
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t i_end = i, j_end = j;
      while (i_end < a.size() && digit(a[i_end])) ++i_end;
      while (j_end < b.size() && digit(b[j_end])) ++j_end;
      auto p = a.substr(i, i_end - i), q = b.substr(j, j_end - j);
      // Digits after "3." are a fraction: compared as text, "05" < "1" (0.05 < 0.1).
      const bool fraction = i >= 2 && a[i - 1] == '.' && digit(a[i - 2]);
      if (!fraction) {  // a whole number: without leading zeros, more digits is larger
        p.erase(0, std::min(p.find_first_not_of('0'), p.size()));
        q.erase(0, std::min(q.find_first_not_of('0'), q.size()));
        if (p.size() != q.size()) return p.size() < q.size();
      }
      if (p != q) return p < q;
      i = i_end, j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;  // equal by value ("07" and "7"): any fixed order
}

namespace {

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
    std::sort(children.begin(), children.end(), [](const fs::path& a, const fs::path& b) {
      return numbers_by_value_less(a.filename().string(), b.filename().string());
    });
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
  Registry registry;
  for (const auto& d : dirs) {
    Run r;
    r.dir = d;
    r.summary = read_run_summary(d);
    r.metrics = MetricsLog::read(d / "metrics.csv");
    r.manifest = manifest_resolved_again(d / "manifest.toml", registry);
    runs.push_back(std::move(r));
  }
  const auto by_settings = settings_labels(runs);
  std::map<std::string, std::string> labels;  // group key -> label of its first run
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto key = group_key(runs[i].manifest);
    if (!labels.count(key)) {
      const std::string wanted = by_settings[i].empty() ? label_for(runs[i]) : by_settings[i];
      // Two groups never share a label (their runs would be averaged together).
      std::string label = wanted;
      for (int n = 2; std::any_of(labels.begin(), labels.end(), [&](const auto& kv) { return kv.second == label; }); ++n)
        label = fmt::format("{} ({})", wanted, n);
      labels[key] = label;
    }
    runs[i].group = labels[key];
  }
  // Settings in the order of their values, whichever folder each came from; seeds in
  // folder order within a setting.
  std::stable_sort(runs.begin(), runs.end(),
                   [](const Run& a, const Run& b) { return numbers_by_value_less(a.group, b.group); });
  return runs;
}

}  // namespace psl::report
