#include "registry.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace psl {

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::Dataset: return "dataset";
    case Kind::Partitioner: return "partitioner";
    case Kind::Model: return "model";
    case Kind::Sampler: return "sampler";
    case Kind::Delay: return "delay";
    case Kind::Protocol: return "protocol";
  }
  return "?";
}

const char* manifest_table(Kind kind) { return kind == Kind::Dataset ? "data" : to_string(kind); }

std::optional<Kind> kind_from_string(const std::string& text) {
  for (Kind k : kAllKinds)
    if (text == to_string(k) || text == manifest_table(k)) return k;
  return std::nullopt;
}

namespace {
// Libraries are never unloaded: objects, std::functions and type_info from them may live
// anywhere in the process until it ends.
std::vector<boost::dll::shared_library>& loaded_libraries() {
  static auto* libs = new std::vector<boost::dll::shared_library>();
  return *libs;
}
}  // namespace

void Registry::load_library(const std::filesystem::path& file) {
  const auto canonical = std::filesystem::weakly_canonical(file);
  if (std::find(loaded_.begin(), loaded_.end(), canonical) != loaded_.end()) return;
  if (!std::filesystem::exists(file)) throw PluginError(fmt::format("{}: no such plugin file", file.string()));

  boost::dll::shared_library lib;
  boost::dll::fs::error_code ec;
  lib.load(boost::dll::fs::path(file.string()),
           boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) throw PluginError(fmt::format("{}: cannot load: {}", file.string(), ec.message()));
  if (!lib.has(PSL_PLUGIN_ENTRY_SYMBOL))
    throw PluginError(fmt::format("{}: not a psl plugin: no entry point '{}' (define one with PSL_PLUGIN)",
                                  file.string(), PSL_PLUGIN_ENTRY_SYMBOL));

  using Entry = const PslPluginInfo*();
  const PslPluginInfo* info = lib.get<Entry>(PSL_PLUGIN_ENTRY_SYMBOL)();
  if (!info) throw PluginError(fmt::format("{}: entry point returned no plugin info", file.string()));
  // Only the first two fields are read before both checks pass.
  if (info->api_version != PSL_API_VERSION)
    throw PluginError(fmt::format("{}: wrong plugin API version: expected {}, found {} (rebuild the plugin "
                                  "against this psl)",
                                  file.string(), PSL_API_VERSION, info->api_version));
  if (info->struct_size != sizeof(PslPluginInfo))
    throw PluginError(fmt::format("{}: wrong plugin info size: expected {} bytes, found {}", file.string(),
                                  sizeof(PslPluginInfo), info->struct_size));
  if (!info->torch_version || std::strcmp(info->torch_version, TORCH_VERSION) != 0)
    throw PluginError(fmt::format("{}: built against libtorch {}, this psl uses {}", file.string(),
                                  info->torch_version ? info->torch_version : "(none)", TORCH_VERSION));
  if (!info->register_components)
    throw PluginError(fmt::format("{}: plugin info has no register callback", file.string()));

  // Kept loaded before registering: a failed registration may leave components behind.
  loaded_libraries().push_back(std::move(lib));
  loaded_.push_back(canonical);
  loading_ = canonical;
  try {
    info->register_components(this);
  } catch (...) {
    loading_.clear();
    throw;
  }
  loading_.clear();
}

void Registry::load_directory(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw PluginError(fmt::format("{}: plugin folder does not exist", dir.string()));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) load_library(f);
}

void Registry::load_search_path(const std::vector<std::filesystem::path>& extra) {
  load_directory(bundled_plugin_dir());
  if (const char* env = std::getenv("PSL_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) load_directory(item);
  }
  for (const auto& dir : extra) load_directory(dir);
}

namespace {
// The folder of libpsl_core. In a build folder the psl program and plugins/ sit beside
// it; in an installed tree (cmake --install, the .deb) they are at paths fixed at build
// time relative to it.
std::filesystem::path core_dir() {
  return std::filesystem::path(boost::dll::this_line_location().parent_path().string());
}
bool is_build_folder() {
  return std::filesystem::is_directory(core_dir() / "plugins") && std::filesystem::is_regular_file(core_dir() / "psl");
}
}  // namespace

std::filesystem::path bundled_plugin_dir() {
  if (const char* env = std::getenv("PSL_BUNDLED_PLUGIN_DIR")) return env;
  return is_build_folder() ? core_dir() / "plugins" : (core_dir() / PSL_LIB_TO_PLUGINS).lexically_normal();
}

std::filesystem::path psl_program() {
  return is_build_folder() ? core_dir() / "psl" : (core_dir() / PSL_LIB_TO_BIN / "psl").lexically_normal();
}

void Registry::add(Component component) {
  const auto key = std::make_pair(component.kind, component.info.name);
  component.library = loading_;
  if (auto it = components_.find(key); it != components_.end())
    throw PluginError(fmt::format("{} '{}' is registered twice: by {} and by {}", to_string(component.kind),
                                  component.info.name, it->second.library.string(), loading_.string()));
  for (const auto& p : component.info.params)
    if (p.name == "type")
      throw PluginError(fmt::format("{}: {} '{}' declares a parameter named 'type', which the manifest uses "
                                    "to pick the component",
                                    loading_.string(), to_string(component.kind), component.info.name));
  components_.emplace(key, std::move(component));
}

void Registry::add_dataset(ComponentInfo info, Factory<Dataset> make) { add({Kind::Dataset, std::move(info), {}, std::move(make)}); }
void Registry::add_partitioner(ComponentInfo info, Factory<Partitioner> make) { add({Kind::Partitioner, std::move(info), {}, std::move(make)}); }
void Registry::add_model(ComponentInfo info, Factory<SplitModel> make) { add({Kind::Model, std::move(info), {}, std::move(make)}); }
void Registry::add_sampler(ComponentInfo info, Factory<Sampler> make) { add({Kind::Sampler, std::move(info), {}, std::move(make)}); }
void Registry::add_delay(ComponentInfo info, Factory<DelayModel> make) { add({Kind::Delay, std::move(info), {}, std::move(make)}); }
void Registry::add_protocol(ComponentInfo info, Factory<Protocol> make) { add({Kind::Protocol, std::move(info), {}, std::move(make)}); }

const Component* Registry::find(Kind kind, const std::string& name) const {
  auto it = components_.find({kind, name});
  return it == components_.end() ? nullptr : &it->second;
}

std::vector<const Component*> Registry::list(Kind kind) const {
  std::vector<const Component*> out;
  for (const auto& [key, c] : components_)
    if (key.first == kind) out.push_back(&c);
  return out;
}

std::vector<std::string> Registry::names(Kind kind) const {
  std::vector<std::string> out;
  for (const auto* c : list(kind)) out.push_back(c->info.name);
  return out;
}

}  // namespace psl
