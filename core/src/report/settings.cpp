#include "report/settings.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

namespace psl::report {

namespace {
const std::string not_set = "(not set)";

void flatten(const toml::table& table, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (auto&& [key, node] : table) {
    const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      flatten(*sub, path, out);
      continue;
    }
    // As a reader wants them: strings bare, floats in their shortest form.
    if (const auto* str = node.as_string()) out[path] = str->get();
    else if (const auto* f = node.as_floating_point()) out[path] = fmt::format("{}", f->get());
    else {
      std::ostringstream text;
      node.visit([&](const auto& v) { text << v; });
      out[path] = text.str();
    }
  }
}
}  // namespace

std::map<std::string, std::string> settings_of(const std::string& manifest) {
  std::map<std::string, std::string> flat;
  flatten(toml::parse(manifest), "", flat);
  return flat;
}

SettingsDiff settings_diff(const std::vector<Run>& runs) {
  std::map<std::string, std::vector<std::string>> values;  // key -> value per run ("" where absent)
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (auto& [k, v] : settings_of(runs[i].manifest)) {
      auto& per_run = values[k];
      per_run.resize(runs.size());
      per_run[i] = v;
    }
  }
  SettingsDiff d;
  for (auto& [k, per_run] : values) {
    per_run.resize(runs.size());
    if (k == "name" || k == "training.threads" || k == "plugin_paths") continue;
    std::vector<std::string> distinct;
    for (const auto& v : per_run) {
      const std::string shown = v.empty() ? not_set : v;  // e.g. a parameter of one protocol only
      if (std::find(distinct.begin(), distinct.end(), shown) == distinct.end()) distinct.push_back(shown);
    }
    std::sort(distinct.begin(), distinct.end(), numbers_by_value_less);
    if (distinct.size() == 1) d.fixed.emplace_back(k, distinct[0]);
    else d.varying.emplace_back(k, distinct);
  }
  return d;
}

std::vector<std::string> settings_labels(const std::vector<Run>& runs) {
  std::vector<std::string> keys;
  for (const auto& [k, values] : settings_diff(runs).varying) {
    const auto set_values = std::count_if(values.begin(), values.end(), [](const auto& v) { return v != not_set; });
    if (k != "seed" && set_values >= 2) keys.push_back(k);
  }
  std::vector<std::string> labels;
  for (const auto& r : runs) {
    const auto settings = settings_of(r.manifest);
    std::vector<std::string> parts;
    for (const auto& k : keys)
      if (const auto it = settings.find(k); it != settings.end()) parts.push_back(k + "=" + it->second);
    labels.push_back(fmt::format("{}", fmt::join(parts, ",")));
  }
  return labels;
}

}  // namespace psl::report
