// Which settings a report's runs share and which they vary in, read from their resolved
// manifests, and the label each group of runs goes by: the settings it differs in.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "report/runs.hpp"

namespace psl::report {

// A resolved manifest as TABLE.KEY -> value, the value as a reader wants it (strings bare,
// floats in their shortest form).
std::map<std::string, std::string> settings_of(const std::string& manifest);

// The keys with one value in every run, and those with several ("(not set)" where a run
// lacks the key, e.g. a parameter of one protocol only). name, training.threads and
// plugin_paths are left out: they do not change what a run computes.
struct SettingsDiff {
  std::vector<std::pair<std::string, std::string>> fixed;
  std::vector<std::pair<std::string, std::vector<std::string>>> varying;
};
SettingsDiff settings_diff(const std::vector<Run>& runs);

// Each run's group label: "KEY=VALUE,..." over the keys the runs vary in other than the
// seed, so a report of several folders names every setting alike. A key that has one value
// wherever it is set (a parameter that comes with one plugin) is implied by the key that
// chose the plugin and left out. Empty when the runs vary in nothing but the seed.
std::vector<std::string> settings_labels(const std::vector<Run>& runs);

}  // namespace psl::report
