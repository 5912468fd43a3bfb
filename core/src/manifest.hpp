// The experiment manifest: TOML in, a checked, typed Experiment out.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "psl/params.hpp"
#include "registry.hpp"
#include "settings.hpp"

namespace psl {

struct ComponentSpec {
  std::string type;
  Params params;
  bool operator==(const ComponentSpec& o) const { return type == o.type && params.values() == o.params.values(); }
};

struct Experiment {
  std::filesystem::path file;  // where it was read from; relative plugin paths start here
  std::string name;
  std::int64_t seed = 1;
  std::vector<std::string> plugin_paths;
  ComponentSpec data, partitioner, model, sampler, delay, protocol;
  bool label_aware = false;  // sampler.label_aware: may the sampler see label histograms?
  Params training;           // see training_params(): the resolved values, as written out
  Params transport;          // see transport_params()
  TrainingSettings training_settings;    // the same two tables, typed: what code reads
  TransportSettings transport_settings;
  // [sweep]: key path -> the values to try, each as TOML text (for --set). Not part of
  // a single run's settings: `psl run` ignores it, `psl sweep` expands it.
  std::vector<std::pair<std::string, std::vector<std::string>>> sweep;

  const ComponentSpec& component(Kind kind) const;
  bool same_settings(const Experiment& o) const;  // everything but `file`
};

// The keys the core itself owns, with types, defaults and docs (printed by `psl plugins`).
const std::vector<ParamSpec>& training_params();
const std::vector<ParamSpec>& transport_params();
const std::vector<ParamSpec>& top_level_params();

// All errors of one manifest, each "FILE:LINE:COL: message".
class ManifestError : public std::runtime_error {
 public:
  explicit ManifestError(std::vector<std::string> errors);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// "KEY.PATH=VALUE" from --set; VALUE is read as TOML (a bare word is a string).
struct Override {
  std::string key;
  std::string value;
};
Override parse_override(const std::string& text);  // throws ManifestError

// Reads, overrides, loads the manifest's plugin_paths into `registry` and checks every
// key. Throws ManifestError listing every problem found.
Experiment load_experiment(const std::filesystem::path& file, const std::vector<Override>& overrides,
                           Registry& registry);

// The resolved manifest: every default filled in; loads back to the same Experiment.
std::string to_toml(const Experiment& experiment);

// A run's manifest.toml resolved again by this psl: keys added since the run was made get
// their defaults, which keep the behaviour from before they existed (a rule for every new
// key, docs/writing-a-plugin.md), so an older run compares equal to the same settings
// resolved now. Throws what load_experiment throws.
std::string resolve_again(const std::filesystem::path& run_manifest, Registry& registry);

}  // namespace psl
