// `psl validate` and `psl plugins`: read-only views of manifests and plugins.
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "experiment_parts.hpp"
#include "psl/api/delay_model.hpp"
#include "psl/api/partitioner.hpp"
#include "psl/api/protocol.hpp"
#include "psl/api/sampler.hpp"
#include "run_settings.hpp"

namespace psl {

std::optional<Experiment> load_or_report(const std::string& manifest, const std::vector<std::string>& sets,
                                         Registry& registry) {
  try {
    std::vector<Override> overrides;
    for (const auto& s : sets) overrides.push_back(parse_override(s));
    return load_experiment(manifest, overrides, registry);
  } catch (const ManifestError& e) {
    for (const auto& line : e.errors()) fmt::print(stderr, "{}\n", line);
    fmt::print(stderr, "{}: {} error{}\n", manifest, e.errors().size(), e.errors().size() == 1 ? "" : "s");
    return std::nullopt;
  }
}

int command_validate(const RunOptions& options) {
  Registry registry;
  auto ex = load_or_report(options.manifest, options.sets, registry);
  if (!ex) return 2;
  // A rule between a component's parameters lives in its plugin's factory, so build the
  // components that are cheap to build (all but the data set, which loads its data).
  try {
    build<SplitModel>(*ex, registry, Kind::Model);
    build<Partitioner>(*ex, registry, Kind::Partitioner);
    build<Sampler>(*ex, registry, Kind::Sampler);
    build<DelayModel>(*ex, registry, Kind::Delay);
    build<Protocol>(*ex, registry, Kind::Protocol);
  } catch (const RunError& e) {
    fmt::print(stderr, "{}: {}\n", options.manifest, e.what());
    return 2;
  }
  if (!options.quiet) std::cout << to_toml(*ex);
  return 0;
}

namespace {
void print_params(const std::vector<ParamSpec>& specs) {
  for (const auto& p : specs) {
    std::string range;
    if (p.min || p.max)
      range = fmt::format(", range [{}, {}]", p.min ? fmt::format("{}", *p.min) : "-inf",
                          p.max ? fmt::format("{}", *p.max) : "inf");
    if (!p.choices.empty()) range = fmt::format(", one of {}", fmt::join(p.choices, " | "));
    const std::string def = p.default_value ? "default " + format_value(*p.default_value) : "required";
    fmt::print("    {:<20} {} ({}{})\n", p.name, to_string(p.type), def, range);
    fmt::print("    {:<20} {}\n", "", p.doc);
  }
}
}  // namespace

int command_plugins(const std::string& kind_text) {
  Registry registry;
  try {
    registry.load_search_path();
  } catch (const PluginError& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
  auto want = [&](const std::string& name) { return kind_text.empty() || kind_text == name; };
  std::optional<Kind> kind;
  if (!kind_text.empty() && kind_text != "training" && kind_text != "transport") {
    kind = kind_from_string(kind_text);
    if (!kind) {
      fmt::print(stderr, "unknown kind '{}': dataset, partitioner, model, sampler, delay, training, transport\n",
                 kind_text);
      return 2;
    }
  }
  for (Kind k : kAllKinds) {
    if (!kind_text.empty() && kind != k) continue;
    fmt::print("{}s ([{}] table, key `type`)\n", to_string(k), manifest_table(k));
    for (const Component* c : registry.list(k)) {
      fmt::print("  {}  {}\n    from {}\n", c->info.name, c->info.doc, c->library.filename().string());
      for (const Knowledge needed : c->info.needs)
        if (needed == Knowledge::LabelHistograms)
          fmt::print("    needs the clients' label histograms: the manifest must set sampler.label_aware = true\n");
      if (k == Kind::Sampler) print_params({param_bool("label_aware", false, "may the sampler see per-client label histograms")});
      print_params(c->info.params);
    }
    fmt::print("\n");
  }
  if (want("training")) {
    fmt::print("training ([training] table, built in)\n");
    print_params(training_params());
    fmt::print("\n");
  }
  if (want("transport")) {
    fmt::print("transport ([transport] table, built in)\n");
    print_params(transport_params());
  }
  return 0;
}

}  // namespace psl
