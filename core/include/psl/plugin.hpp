// Writing a plugin: one shared library, one entry point, any number of components.
//
//   #include <psl/plugin.hpp>
//   #include <psl/api/sampler.hpp>
//
//   class RoundRobin : public psl::Sampler { ... };
//
//   PSL_PLUGIN() {
//     registrar.add_sampler({"round_robin", "one client per step, in turn",
//                            {psl::param_int("per_step", 1, "clients per step").at_least(1)}},
//                           [](const psl::Context& ctx) { return std::make_unique<RoundRobin>(ctx); });
//   }
//
// The host loads the library, calls psl_plugin_info(), checks the API version, the
// struct size and the libtorch version before anything else, then calls the register
// callback. Libraries stay loaded until the process ends. See docs/writing-a-plugin.md.
#pragma once

#include <torch/version.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "psl/params.hpp"

#define PSL_API_VERSION 3u  // 3: the protocol kind, Context::training

namespace psl {

class Dataset;
class Partitioner;
class SplitModel;
class Sampler;
class DelayModel;
class Protocol;

// What every factory gets.
struct Context {
  Params params;                    // the component's table, checked, defaults filled in
  std::uint64_t seed = 0;           // the run's seed; derive streams with psl::stream_seed
  std::filesystem::path base_dir;   // the manifest's folder, for relative file parameters
  std::int64_t num_clients = 0;
  std::int64_t batch_size = 0;
  Params training;                  // the run's [training] table (the psl protocol reads client_sync)
};

// What the server knows beyond ClientState's defaults, which a component may need and a
// manifest must grant.
enum class Knowledge {
  LabelHistograms,  // ClientState::label_histogram: granted by `sampler.label_aware = true`
};

// A component's name, one-line doc and parameters, printed by `psl plugins`; `needs`:
// what it cannot work without (psl validate refuses a manifest that does not grant it).
struct ComponentInfo {
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
  std::vector<Knowledge> needs = {};
};

template <class T>
using Factory = std::function<std::unique_ptr<T>(const Context&)>;

// The host's side of registration. A plugin calls these from its register callback.
class Registrar {
 public:
  virtual ~Registrar();
  virtual void add_dataset(ComponentInfo info, Factory<Dataset> make) = 0;
  virtual void add_partitioner(ComponentInfo info, Factory<Partitioner> make) = 0;
  virtual void add_model(ComponentInfo info, Factory<SplitModel> make) = 0;
  virtual void add_sampler(ComponentInfo info, Factory<Sampler> make) = 0;
  virtual void add_delay(ComponentInfo info, Factory<DelayModel> make) = 0;
  virtual void add_protocol(ComponentInfo info, Factory<Protocol> make) = 0;
};

}  // namespace psl

extern "C" {
// C layout, so the host can read the first two fields of any version safely.
struct PslPluginInfo {
  std::uint32_t api_version;    // PSL_API_VERSION the plugin was built against
  std::uint32_t struct_size;    // sizeof(PslPluginInfo) the plugin was built with
  const char* torch_version;    // TORCH_VERSION the plugin was built against
  void (*register_components)(psl::Registrar* registrar);
};
}

#define PSL_PLUGIN_ENTRY_SYMBOL "psl_plugin_info"

// Defines the entry point; the body that follows registers components via `registrar`.
#define PSL_PLUGIN()                                                                      \
  static void psl_register_components_(psl::Registrar& registrar);                       \
  static void psl_register_trampoline_(psl::Registrar* r) { psl_register_components_(*r); } \
  extern "C" __attribute__((visibility("default"))) const PslPluginInfo* psl_plugin_info() { \
    static const PslPluginInfo info{PSL_API_VERSION, sizeof(PslPluginInfo), TORCH_VERSION,  \
                                    &psl_register_trampoline_};                             \
    return &info;                                                                         \
  }                                                                                       \
  static void psl_register_components_(psl::Registrar& registrar)
