// Typed, documented parameters of a component.
//
// Each plugin declares its parameters once as a list of ParamSpec. The host uses that
// list to check manifest keys (unknown key, wrong type, out of range), to fill in
// defaults, and to print `psl plugins`. The plugin then reads checked values from Params.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace psl {

enum class ParamType { Bool, Int, Float, String, IntList };

const char* to_string(ParamType type);

using ParamValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>>;

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  std::optional<ParamValue> default_value;  // empty: the key is required
  std::optional<double> min;                // numbers (and every element of an IntList)
  std::optional<double> max;
  std::vector<std::string> choices;         // strings: the allowed values, if not empty
  std::string doc;                          // one line
};

// Builders so that a spec reads as one line in a plugin:
//   psl::param_float("lr", 0.05, "learning rate").at_least(0)
struct ParamBuilder {
  ParamSpec spec;
  ParamBuilder& at_least(double v) { spec.min = v; return *this; }
  ParamBuilder& at_most(double v) { spec.max = v; return *this; }
  ParamBuilder& one_of(std::vector<std::string> values) { spec.choices = std::move(values); return *this; }
  operator ParamSpec() const { return spec; }  // NOLINT: implicit by design
};

ParamBuilder param_bool(std::string name, bool def, std::string doc);
ParamBuilder param_int(std::string name, std::int64_t def, std::string doc);
ParamBuilder param_float(std::string name, double def, std::string doc);
ParamBuilder param_string(std::string name, std::string def, std::string doc);
ParamBuilder param_int_list(std::string name, std::vector<std::int64_t> def, std::string doc);
// A parameter with no default: the manifest must give it.
ParamBuilder param_required(std::string name, ParamType type, std::string doc);

// Checked values of one component, defaults filled in. Getters throw std::out_of_range
// for a name the spec did not declare (a plugin bug, not a user error).
class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, ParamValue> values) : values_(std::move(values)) {}

  bool get_bool(const std::string& name) const;
  std::int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // an Int value reads as a float too
  const std::string& get_string(const std::string& name) const;
  const std::vector<std::int64_t>& get_int_list(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, ParamValue>& values() const { return values_; }

 private:
  const ParamValue& at(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
};

// Renders a value as it would appear in TOML ("1.5", "[1, 28, 28]", "\"sgd\"").
std::string format_value(const ParamValue& value);

}  // namespace psl
