// Every component the loaded plugins registered, by kind and name.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "psl/plugin.hpp"

namespace psl {

enum class Kind { Dataset, Partitioner, Model, Sampler, Delay, Protocol };
inline constexpr Kind kAllKinds[] = {Kind::Dataset, Kind::Partitioner, Kind::Model, Kind::Sampler,
                                     Kind::Delay,   Kind::Protocol};

const char* to_string(Kind kind);             // "dataset", ... as in `psl plugins KIND`
const char* manifest_table(Kind kind);        // "data", "partitioner", "model", "sampler", "delay", "protocol"
std::optional<Kind> kind_from_string(const std::string& text);

struct Component {
  Kind kind;
  ComponentInfo info;
  std::filesystem::path library;
  std::variant<Factory<Dataset>, Factory<Partitioner>, Factory<SplitModel>, Factory<Sampler>,
               Factory<DelayModel>, Factory<Protocol>>
      factory;
};

class PluginError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Registry : public Registrar {
 public:
  // Loads one plugin library; throws PluginError naming the file and what was wrong.
  void load_library(const std::filesystem::path& file);
  // Loads every *.so in the folder (sorted by name); a missing folder is an error.
  void load_directory(const std::filesystem::path& dir);
  // The build's plugin folder, then PSL_PLUGIN_PATH (':'-separated), then `extra`.
  void load_search_path(const std::vector<std::filesystem::path>& extra = {});

  const Component* find(Kind kind, const std::string& name) const;
  std::vector<const Component*> list(Kind kind) const;
  std::vector<std::string> names(Kind kind) const;

  template <class T>
  std::unique_ptr<T> make(Kind kind, const std::string& name, const Context& ctx) const {
    const Component* c = find(kind, name);
    if (!c) throw PluginError(std::string("no ") + to_string(kind) + " named '" + name + "'");
    return std::get<Factory<T>>(c->factory)(ctx);
  }

  void add_dataset(ComponentInfo info, Factory<Dataset> make) override;
  void add_partitioner(ComponentInfo info, Factory<Partitioner> make) override;
  void add_model(ComponentInfo info, Factory<SplitModel> make) override;
  void add_sampler(ComponentInfo info, Factory<Sampler> make) override;
  void add_delay(ComponentInfo info, Factory<DelayModel> make) override;
  void add_protocol(ComponentInfo info, Factory<Protocol> make) override;

 private:
  void add(Component component);
  std::map<std::pair<Kind, std::string>, Component> components_;
  std::vector<std::filesystem::path> loaded_;
  std::filesystem::path loading_;  // the library whose register callback is running
};

// The folder the build put the bundled plugins in (next to the psl program).
std::filesystem::path bundled_plugin_dir();
// The psl program next to libpsl_core (for starting runs and clients as processes).
std::filesystem::path psl_program();

}  // namespace psl
