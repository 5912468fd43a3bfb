#include "manifest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <cmath>
#include <set>
#include <sstream>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace psl {

const std::vector<ParamSpec>& top_level_params() {
  static const std::vector<ParamSpec> specs = {
      param_required("name", ParamType::String, "experiment name, used for the run folder"),
      param_int("seed", 1, "seed of every random stream in the run").at_least(0),
  };
  return specs;
}

const std::vector<ParamSpec>& training_params() {
  static const std::vector<ParamSpec> specs = {
      param_int("clients", 16, "number of clients K").at_least(1),
      param_int("batch_size", 128, "global batch size B").at_least(1),
      param_int("epochs", 1, "passes over the training set").at_least(1),
      param_int("max_steps", 0, "stop after this many steps in all (0: no limit)").at_least(0),
      param_string("optimizer", "sgd", "optimizer of both parts").one_of({"sgd", "adam"}),
      param_float("lr", 0.05, "learning rate").at_least(0),
      param_string("lr_schedule", "constant",
                   "constant: lr throughout; cosine: lr times (1 + cos(pi p)) / 2, p the share of the run's samples "
                   "(epochs x training set, or max_steps) trained before the step")
          .one_of({"constant", "cosine"}),
      param_float("momentum", 0.0, "SGD momentum").at_least(0).at_most(1),
      param_float("weight_decay", 0.0, "L2 weight decay").at_least(0),
      param_string("client_sync", "shared",
                   "shared: summed client gradients, one identical client model; local: each client "
                   "updates with its own gradient; fedavg: local, averaged every sync_every_steps")
          .one_of({"shared", "local", "fedavg"}),
      param_int("sync_every_steps", 10, "fedavg: steps between averaging the client replicas").at_least(1),
      param_bool("fused", true,
                 "run the active clients' passes as one batch (shared sync), as one batched computation over their "
                 "parts (local, fedavg: where the client part's layers allow); false: one pass per client"),
      param_int("eval_every_steps", 0, "evaluate on the test set every N steps too (0: epoch ends only)")
          .at_least(0),
      param_int("eval_batch_size", 256, "batch size of evaluation (larger: more memory, not faster on CPU)").at_least(1),
      param_float("step_deadline_s", 0.0,
                  "clients that would take longer in a step are deferred to a later step (0: none)")
          .at_least(0),
      param_int("threads", 0, "torch intra-op threads (0: all cores)").at_least(0),
  };
  return specs;
}

const std::vector<ParamSpec>& transport_params() {
  static const std::vector<ParamSpec> specs = {
      param_string("type", "simulated", "simulated: virtual clock in one process; tcp: real client processes")
          .one_of({"simulated", "tcp"}),
      param_string("listen", "127.0.0.1:0", "tcp: HOST:PORT the server listens on (port 0: any free port)"),
      param_string("token_file", "",
                   "tcp: file holding the master secret; client k presents the token derived from it for k (written "
                   "to RUN/tokens/client-k.token). Empty: a random one in RUN/token"),
      param_string("on_client_loss", "abort", "tcp: what a lost client does to the run")
          .one_of({"wait", "drop", "abort"}),
      param_float("handshake_timeout_s", 10.0, "tcp: seconds a new connection has to authenticate").at_least(0),
      param_float("step_timeout_s", 60.0, "tcp: seconds a client has to answer a step").at_least(0),
      param_float("ready_timeout_s", 300.0, "tcp: seconds a client has from its handshake to loading its data (Ready)")
          .at_least(0),
      param_float("max_client_value", 1e6,
                  "tcp: largest absolute value accepted in a client's activations and gradients (a guard against "
                  "garbage, not a defence against a clever attacker)")
          .at_least(0),
      param_bool("tls", false, "tcp: TLS 1.3 between server and clients (docs/deployment.md)"),
      param_string("tls_cert", "", "tcp: the server's certificate (PEM); empty with tls: psl makes a CA and certificates in RUN/tls"),
      param_string("tls_key", "", "tcp: the server certificate's private key (PEM)"),
      param_string("tls_ca", "", "tcp: CA whose certificates clients must present (mutual TLS; a certificate names its client: CN psl-client-K)"),
      param_bool("insecure", false, "tcp: allow plain TCP on an address other than loopback (the token, labels and activations cross in clear)"),
      param_bool("emulate_network", false, "tcp, psl run: each client in its own network namespace on a link with its "
                                           "delay model's bandwidth (tbf) and latency (held in the sender); needs root"),
  };
  return specs;
}

namespace {

const char* kDefaultType(Kind kind) {
  switch (kind) {
    case Kind::Dataset: return nullptr;  // required
    case Kind::Partitioner: return "iid";
    case Kind::Model: return "fmnist_cnn";
    case Kind::Sampler: return nullptr;  // required
    case Kind::Delay: return "constant";
    case Kind::Protocol: return "psl";
  }
  return nullptr;
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a bool";
    default: return "a date or time";
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest of `known` within a third of the word's length.
std::string near_miss(const std::vector<std::string>& known, const std::string& wrong) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, wrong.size() / 3) + 1;
  for (const auto& k : known)
    if (const auto d = edit_distance(k, wrong); d < best_distance) best = k, best_distance = d;
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

std::string known_list(const std::vector<std::string>& known, const std::string& wrong) {
  return fmt::format("{}; known: {}", near_miss(known, wrong),
                     known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", ")));
}

// Collects errors with their source positions; --set values are named by their flag.
class Checker {
 public:
  Checker(std::string file, std::set<std::string> overridden)
      : file_(std::move(file)), overridden_(std::move(overridden)) {}

  void error(const std::string& key_path, const toml::source_region& where, const std::string& message) {
    if (overridden_.count(key_path)) {
      errors_.push_back(fmt::format("--set {}: {}{}", key_path, context_, message));
    } else {
      // A node made by the checker has no position of its own: the fallback is where it came from.
      const auto& at = where.begin.line == 0 && fallback_ ? fallback_->begin : where.begin;
      errors_.push_back(fmt::format("{}:{}:{}: {}{}", file_, at.line, at.column, context_, message));
    }
    key_paths_.push_back(key_path);
  }
  std::vector<std::string>& errors() { return errors_; }
  const std::vector<std::string>& key_paths() const { return key_paths_; }  // per error
  // Said before every message (a [sweep] value's check says so).
  void set_context(std::string context) { context_ = std::move(context); }
  void set_fallback(const toml::source_region& where) { fallback_ = where; }

  // Checks one table against a spec. `skip` keys belong to someone else.
  Params check_table(const std::string& path, const toml::table& table, const std::vector<ParamSpec>& specs,
                     const std::string& owner, const std::set<std::string>& skip) {
    std::set<std::string> present;
    auto values = check_keys(path, table, specs, owner, skip, present);
    return complete(std::move(values), present, path, table, specs, owner);
  }

  // The values of the keys present in `table`, each checked against its spec; `present`
  // gains every key found (a wrong value is reported here, not again as missing).
  std::map<std::string, ParamValue> check_keys(const std::string& path, const toml::table& table,
                                               const std::vector<ParamSpec>& specs, const std::string& owner,
                                               const std::set<std::string>& skip, std::set<std::string>& present) {
    std::map<std::string, ParamValue> values;
    std::vector<std::string> known;
    for (const auto& s : specs) known.push_back(s.name);
    known.insert(known.end(), skip.begin(), skip.end());  // keys (and tables) checked elsewhere
    for (auto&& [key, node] : table) {
      const std::string name(key.str());
      if (skip.count(name)) continue;
      present.insert(name);
      auto spec = std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == name; });
      const std::string full = path.empty() ? name : path + "." + name;
      if (spec == specs.end()) {
        error(full, key.source(), fmt::format("unknown key '{}' for {}{}", full, owner, known_list(known, name)));
        continue;
      }
      if (auto v = convert(full, node, *spec, owner)) values[name] = *v;
    }
    return values;
  }

  // Fills in the defaults; a required key that is absent is an error at `table`.
  Params complete(std::map<std::string, ParamValue> values, const std::set<std::string>& present,
                  const std::string& path, const toml::table& table, const std::vector<ParamSpec>& specs,
                  const std::string& owner) {
    for (const auto& s : specs) {
      if (values.count(s.name) || present.count(s.name)) continue;
      if (s.default_value) {
        values[s.name] = *s.default_value;
      } else {
        error(path, table.source(),
              fmt::format("missing key '{}{}' ({} {}: {})", path.empty() ? "" : path + ".", s.name, to_string(s.type),
                          owner, s.doc));
      }
    }
    return Params(std::move(values));
  }

 private:
  std::optional<ParamValue> convert(const std::string& full, const toml::node& node, const ParamSpec& spec,
                                    const std::string& owner) {
    auto wrong = [&] {
      error(full, node.source(),
            fmt::format("'{}' must be {} for {}, found {}", full, article(spec.type), owner, type_name(node.type())));
      return std::nullopt;
    };
    auto in_range = [&](double v) {
      if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
        error(full, node.source(),
              fmt::format("'{}' = {} is out of range [{}, {}] for {}", full, v,
                          spec.min ? fmt::format("{}", *spec.min) : "-inf",
                          spec.max ? fmt::format("{}", *spec.max) : "inf", owner));
        return false;
      }
      return true;
    };
    switch (spec.type) {
      case ParamType::Bool:
        if (!node.is_boolean()) return wrong();
        return ParamValue{*node.value<bool>()};
      case ParamType::Int: {
        if (!node.is_integer()) return wrong();
        auto v = *node.value<std::int64_t>();
        if (!in_range(static_cast<double>(v))) return std::nullopt;
        return ParamValue{v};
      }
      case ParamType::Float: {
        if (!node.is_number()) return wrong();
        double v = *node.value<double>();
        if (!std::isfinite(v)) {
          error(full, node.source(), fmt::format("'{}' must be a finite number", full));
          return std::nullopt;
        }
        if (!in_range(v)) return std::nullopt;
        return ParamValue{v};
      }
      case ParamType::String: {
        if (!node.is_string()) return wrong();
        std::string v = *node.value<std::string>();
        if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), v) == spec.choices.end()) {
          error(full, node.source(),
                fmt::format("'{}' = \"{}\" is not allowed for {}{}: choose one of {}", full, v, owner,
                            near_miss(spec.choices, v), fmt::join(spec.choices, ", ")));
          return std::nullopt;
        }
        return ParamValue{v};
      }
      case ParamType::IntList: {
        const auto* arr = node.as_array();
        if (!arr) return wrong();
        std::vector<std::int64_t> out;
        for (const auto& el : *arr) {
          if (!el.is_integer()) return wrong();
          auto v = *el.value<std::int64_t>();
          if (!in_range(static_cast<double>(v))) return std::nullopt;
          out.push_back(v);
        }
        return ParamValue{out};
      }
    }
    return std::nullopt;
  }

  static std::string article(ParamType t) {
    switch (t) {
      case ParamType::Bool: return "a bool";
      case ParamType::Int: return "an integer";
      case ParamType::Float: return "a number";
      case ParamType::String: return "a string";
      case ParamType::IntList: return "an array of integers";
    }
    return "?";
  }

  std::string file_;
  std::set<std::string> overridden_;
  std::vector<std::string> errors_;
  std::vector<std::string> key_paths_;
  std::string context_;
  std::optional<toml::source_region> fallback_;
};

// Sets the dotted `key` to `value`, making the tables on the way.
void set_key(toml::table& root, const std::string& key, const toml::node& value) {
  toml::table* table = &root;
  std::stringstream ss(key);
  std::vector<std::string> parts;
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto* next = (*table)[parts[i]].as_table();
    if (!next) {
      if (table->contains(parts[i]))
        throw ManifestError({fmt::format("--set {}: '{}' is not a table", key, parts[i])});
      table->insert(parts[i], toml::table{});
      next = (*table)[parts[i]].as_table();
    }
    table = next;
  }
  // The key takes the value's position, so that a problem with it points somewhere.
  table->insert_or_assign(toml::key(parts.back(), value.source()), value);
}

void apply_override(toml::table& root, const Override& o) {
  // Read the value as TOML; a bare word such as `lds` is taken as a string.
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + o.value);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", o.value}};
  }
  set_key(root, o.key, *parsed.get("v"));
}

}  // namespace

namespace {
// Flattens [sweep] (dotted keys make nested tables) into key paths with value lists.
void read_sweep(Checker& check, const std::string& prefix, const toml::table& table,
                std::vector<std::pair<std::string, std::vector<std::string>>>& out) {
  for (auto&& [key, node] : table) {
    const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      read_sweep(check, path, *sub, out);
      continue;
    }
    const auto* arr = node.as_array();
    if (!arr || arr->empty()) {
      check.error("sweep." + path, node.source(), fmt::format("'sweep.{}' must be a non-empty array of values", path));
      continue;
    }
    std::vector<std::string> values;
    for (const auto& el : *arr) {
      if (auto v = el.value<std::int64_t>(); v && el.is_integer()) values.push_back(std::to_string(*v));
      else if (auto d = el.value<double>(); d && el.is_floating_point()) values.push_back(format_value(ParamValue{*d}));
      else if (auto b = el.value<bool>()) values.push_back(*b ? "true" : "false");
      else if (auto str = el.value<std::string>()) values.push_back(format_value(ParamValue{*str}));
      else check.error("sweep." + path, el.source(), fmt::format("'sweep.{}' holds a value that is not a number, bool or string", path));
    }
    out.push_back({path, values});
  }
}
}  // namespace

ManifestError::ManifestError(std::vector<std::string> errors)
    : std::runtime_error(fmt::format("{}", fmt::join(errors, "\n"))), errors_(std::move(errors)) {}

Override parse_override(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ManifestError({fmt::format("--set {}: expected KEY.PATH=VALUE", text)});
  return {text.substr(0, eq), text.substr(eq + 1)};
}

const ComponentSpec& Experiment::component(Kind kind) const {
  switch (kind) {
    case Kind::Dataset: return data;
    case Kind::Partitioner: return partitioner;
    case Kind::Model: return model;
    case Kind::Sampler: return sampler;
    case Kind::Delay: return delay;
    case Kind::Protocol: return protocol;
  }
  return data;
}

bool Experiment::same_settings(const Experiment& o) const {
  return name == o.name && seed == o.seed && plugin_paths == o.plugin_paths && data == o.data &&
         partitioner == o.partitioner && model == o.model && sampler == o.sampler && delay == o.delay && protocol == o.protocol &&
         label_aware == o.label_aware && training.values() == o.training.values() &&
         transport.values() == o.transport.values();
}

namespace {
// Every check of a parsed manifest; problems go to `check`.
Experiment check_manifest(const toml::table& root, const std::filesystem::path& file, Checker& check,
                          Registry& registry);
void check_sweep_values(const toml::table& root, const std::filesystem::path& file, Registry& registry,
                        Checker& check);
}  // namespace

Experiment load_experiment(const std::filesystem::path& file, const std::vector<Override>& overrides,
                           Registry& registry) {
  const std::string file_name = file.string();
  toml::table root;
  try {
    root = toml::parse_file(file_name);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    if (b.line == 0 && !std::filesystem::exists(file)) throw ManifestError({fmt::format("{}: no such file", file_name)});
    throw ManifestError({fmt::format("{}:{}:{}: {}", file_name, b.line, b.column, e.description())});
  }
  std::set<std::string> overridden;
  for (const auto& o : overrides) {
    apply_override(root, o);
    overridden.insert(o.key);
  }

  Checker check(file_name, overridden);
  Experiment ex = check_manifest(root, file, check, registry);
  check_sweep_values(root, file, registry, check);
  if (!check.errors().empty()) throw ManifestError(std::move(check.errors()));
  ex.training_settings = training_settings(ex.training);
  ex.transport_settings = transport_settings(ex.transport);
  return ex;
}

namespace {
Experiment check_manifest(const toml::table& root, const std::filesystem::path& file, Checker& check,
                          Registry& registry) {
  Experiment ex;
  ex.file = file;

  // Plugins first: the component tables are checked against what they register.
  if (auto* node = root.get("plugin_paths")) {
    const auto* arr = node->as_array();
    if (!arr || (!arr->empty() && !arr->is_homogeneous(toml::node_type::string))) {
      check.error("plugin_paths", node->source(), "'plugin_paths' must be an array of strings");
    } else {
      for (const auto& el : *arr) ex.plugin_paths.push_back(*el.value<std::string>());
    }
  }
  // Relative plugin folders start at the manifest's folder; kept absolute from here on.
  std::vector<std::filesystem::path> dirs;
  for (auto& p : ex.plugin_paths) {
    std::filesystem::path dir(p);
    if (!dir.is_absolute()) dir = std::filesystem::absolute(file.parent_path() / dir).lexically_normal();
    p = dir.string();
    dirs.push_back(dir);
  }
  try {
    registry.load_search_path(dirs);
  } catch (const PluginError& e) {
    const toml::node* paths = root.get("plugin_paths");
    check.error("plugin_paths", paths ? paths->source() : root.source(), e.what());
  }

  const std::set<std::string> tables = {"data", "partitioner", "model", "sampler", "delay", "protocol", "training", "transport",
                                        "sweep"};
  std::set<std::string> top_skip(tables.begin(), tables.end());
  top_skip.insert("plugin_paths");
  Params top = check.check_table("", root, top_level_params(), "the manifest", top_skip);
  if (top.has("name")) ex.name = top.get_string("name");
  if (top.has("seed")) ex.seed = top.get_int("seed");

  auto table_at = [&](const std::string& key) -> const toml::table* {
    const toml::node* node = root.get(key);
    if (node && !node->is_table()) {
      check.error(key, node->source(), fmt::format("'{}' must be a table ([{}])", key, key));
      return nullptr;
    }
    return node ? node->as_table() : nullptr;
  };

  for (Kind kind : kAllKinds) {
    const std::string key = manifest_table(kind);
    const toml::table* table = table_at(key);
    ComponentSpec spec;
    const toml::node* type_node = table ? table->get("type") : nullptr;
    if (type_node && !type_node->is_string()) {
      check.error(key + ".type", type_node->source(), fmt::format("'{}.type' must be a string", key));
      continue;
    }
    if (type_node) {
      spec.type = *type_node->value<std::string>();
    } else if (const char* def = kDefaultType(kind)) {
      spec.type = def;
    } else {
      const auto where = table ? table->source() : root.source();
      check.error(key, where,
                  fmt::format("missing {} '{}.type' (known {}s: {})", table ? "key" : "table and key", key,
                              to_string(kind), fmt::join(registry.names(kind), ", ")));
      continue;
    }
    const Component* component = registry.find(kind, spec.type);
    if (!component) {
      check.error(key + ".type", type_node ? type_node->source() : root.source(),
                  fmt::format("unknown {} '{}'{}", to_string(kind), spec.type,
                              known_list(registry.names(kind), spec.type)));
      continue;
    }
    std::set<std::string> skip = {"type"};
    if (kind == Kind::Sampler) {
      skip.insert("label_aware");
      if (const toml::node* la = table ? table->get("label_aware") : nullptr) {
        if (la->is_boolean()) {
          ex.label_aware = *la->value<bool>();
        } else {
          check.error("sampler.label_aware", la->source(), "'sampler.label_aware' must be a bool");
        }
      }
    }
    const std::string owner = fmt::format("{} '{}'", to_string(kind), spec.type);
    for (const Knowledge needed : component->info.needs)
      if (needed == Knowledge::LabelHistograms && !ex.label_aware)
        check.error(key + ".type", type_node ? type_node->source() : root.source(),
                    fmt::format("{} needs the clients' label histograms: set sampler.label_aware = true to grant them "
                                "(the server then knows each client's per-class counts)",
                                owner));
    toml::table empty;
    const toml::table& given = table ? *table : empty;
    // [KIND.TYPE] tables hold parameters for the runs of that type only (so that a sweep
    // over KIND.type can set each type's own parameters). Every one is checked against its
    // type, used or not; the chosen type's table adds to the [KIND] table.
    std::map<std::string, ParamValue> typed;
    std::set<std::string> present, typed_present;
    for (auto&& [name_key, node] : given) {
      const auto* sub = node.as_table();
      if (!sub) continue;
      const std::string name(name_key.str());
      skip.insert(name);
      const Component* other = registry.find(kind, name);
      if (!other) {
        check.error(key + "." + name, name_key.source(),
                    fmt::format("[{}.{}] names no {}{}", key, name, to_string(kind), known_list(registry.names(kind), name)));
        continue;
      }
      std::set<std::string> found;
      auto values = check.check_keys(key + "." + name, *sub, other->info.params,
                                     fmt::format("{} '{}'", to_string(kind), name), {}, found);
      if (name == spec.type) typed = std::move(values), typed_present = std::move(found);
    }
    auto values = check.check_keys(key, given, component->info.params, owner, skip, present);
    present.insert(typed_present.begin(), typed_present.end());
    for (auto& [name, value] : typed) {
      if (values.count(name)) {
        const auto* where = given.get_as<toml::table>(spec.type)->get(name);
        check.error(key + "." + spec.type + "." + name, where->source(),
                    fmt::format("'{}' is set in both [{}] and [{}.{}]: set it in one place", name, key, key, spec.type));
      }
      values[name] = value;
    }
    spec.params = check.complete(std::move(values), present, key, given, component->info.params, owner);
    switch (kind) {
      case Kind::Dataset: ex.data = spec; break;
      case Kind::Partitioner: ex.partitioner = spec; break;
      case Kind::Model: ex.model = spec; break;
      case Kind::Sampler: ex.sampler = spec; break;
      case Kind::Delay: ex.delay = spec; break;
      case Kind::Protocol: ex.protocol = spec; break;
    }
  }

  toml::table empty;
  const toml::table* training = table_at("training");
  ex.training = check.check_table("training", training ? *training : empty, training_params(), "[training]", {});
  const toml::table* transport = table_at("transport");
  ex.transport =
      check.check_table("transport", transport ? *transport : empty, transport_params(), "[transport]", {});

  if (const toml::table* sweep = table_at("sweep")) read_sweep(check, "", *sweep, ex.sweep);
  return ex;
}

// The [sweep] values in order: (key path, value node).
void sweep_values(const toml::table& table, const std::string& prefix,
                  std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [key, node] : table) {
    const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) sweep_values(*sub, path, out);
    else if (const auto* arr = node.as_array())
      for (const auto& el : *arr) out.emplace_back(path, &el);
  }
}

// Checks every [sweep] value as the run that uses it would check it, and reports what is
// wrong with the value at its own position.
void check_sweep_values(const toml::table& root, const std::filesystem::path& file, Registry& registry,
                        Checker& check) {
  const toml::table* sweep = root.get_as<toml::table>("sweep");
  if (!sweep) return;
  std::vector<std::pair<std::string, const toml::node*>> values;
  sweep_values(*sweep, "", values);
  for (const auto& [path, value] : values) {
    toml::table point = root;
    point.erase("sweep");
    try {
      set_key(point, path, *value);
    } catch (const ManifestError& e) {
      check.error("sweep." + path, value->source(), fmt::format("[sweep] '{}': {}", path, e.errors().front()));
      continue;
    }
    Checker one(file.string(), {});
    one.set_context("[sweep] ");
    one.set_fallback(value->source());
    check_manifest(point, file, one, registry);
    for (std::size_t i = 0; i < one.errors().size(); ++i)
      if (one.key_paths()[i] == path) check.errors().push_back(one.errors()[i]);
  }
}
}  // namespace

namespace {
// The resolved manifest is written by hand rather than by TOML++, whose floats carry 17
// digits (0.00050000000000000001): format_value writes each float as the shortest text
// that reads back as the same double, so a user sees what they wrote and a client parses
// the same bits.
std::string toml_string(const std::string& v) {
  std::ostringstream out;
  out << toml::value<std::string>(v);
  return out.str();
}
std::string toml_value(const ParamValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::int64_t>) return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>) return format_value(ParamValue{x});
        else if constexpr (std::is_same_v<T, std::string>) return toml_string(x);
        else return fmt::format("[{}]", fmt::join(x, ", "));
      },
      v);
}
void write_table(std::ostringstream& out, const std::string& name, std::map<std::string, std::string> lines) {
  out << "\n[" << name << "]\n";
  for (const auto& [key, value] : lines) out << key << " = " << value << "\n";
}
std::map<std::string, std::string> lines_of(const Params& params) {
  std::map<std::string, std::string> lines;
  for (const auto& [k, v] : params.values()) lines[k] = toml_value(v);
  return lines;
}
}  // namespace

std::string to_toml(const Experiment& ex) {
  std::ostringstream out;
  out << "# Resolved manifest: every default filled in. Rerun with `psl run` on this file.\n";
  out << "name = " << toml_string(ex.name) << "\nseed = " << ex.seed << "\n";
  std::vector<std::string> paths;
  for (const auto& p : ex.plugin_paths) paths.push_back(toml_string(p));
  out << "plugin_paths = [" << fmt::format("{}", fmt::join(paths, ", ")) << "]\n";
  for (Kind kind : kAllKinds) {
    const auto& spec = ex.component(kind);
    auto lines = lines_of(spec.params);
    lines["type"] = toml_string(spec.type);
    if (kind == Kind::Sampler) lines["label_aware"] = ex.label_aware ? "true" : "false";
    write_table(out, manifest_table(kind), std::move(lines));
  }
  write_table(out, "training", lines_of(ex.training));
  write_table(out, "transport", lines_of(ex.transport));
  return out.str();
}

std::string resolve_again(const std::filesystem::path& run_manifest, Registry& registry) {
  return to_toml(load_experiment(run_manifest, {}, registry));
}

}  // namespace psl
