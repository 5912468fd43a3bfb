#include "psl/params.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace psl {

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::IntList: return "int list";
  }
  return "?";
}

namespace {
ParamBuilder make(std::string name, ParamType type, std::optional<ParamValue> def, std::string doc) {
  ParamBuilder b;
  b.spec.name = std::move(name);
  b.spec.type = type;
  b.spec.default_value = std::move(def);
  b.spec.doc = std::move(doc);
  return b;
}
}  // namespace

ParamBuilder param_bool(std::string name, bool def, std::string doc) {
  return make(std::move(name), ParamType::Bool, ParamValue{def}, std::move(doc));
}
ParamBuilder param_int(std::string name, std::int64_t def, std::string doc) {
  return make(std::move(name), ParamType::Int, ParamValue{def}, std::move(doc));
}
ParamBuilder param_float(std::string name, double def, std::string doc) {
  return make(std::move(name), ParamType::Float, ParamValue{def}, std::move(doc));
}
ParamBuilder param_string(std::string name, std::string def, std::string doc) {
  return make(std::move(name), ParamType::String, ParamValue{std::move(def)}, std::move(doc));
}
ParamBuilder param_int_list(std::string name, std::vector<std::int64_t> def, std::string doc) {
  return make(std::move(name), ParamType::IntList, ParamValue{std::move(def)}, std::move(doc));
}
ParamBuilder param_required(std::string name, ParamType type, std::string doc) {
  return make(std::move(name), type, std::nullopt, std::move(doc));
}

const ParamValue& Params::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::out_of_range("parameter '" + name + "' is not declared");
  return it->second;
}

bool Params::get_bool(const std::string& name) const { return std::get<bool>(at(name)); }
std::int64_t Params::get_int(const std::string& name) const { return std::get<std::int64_t>(at(name)); }
double Params::get_float(const std::string& name) const {
  const auto& v = at(name);
  if (auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  return std::get<double>(v);
}
const std::string& Params::get_string(const std::string& name) const { return std::get<std::string>(at(name)); }
const std::vector<std::int64_t>& Params::get_int_list(const std::string& name) const {
  return std::get<std::vector<std::int64_t>>(at(name));
}

std::string format_value(const ParamValue& value) {
  struct Visitor {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      std::string s = fmt::format("{}", d);
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
      return s;
    }
    std::string operator()(const std::string& s) const { return fmt::format("\"{}\"", s); }
    std::string operator()(const std::vector<std::int64_t>& v) const {
      return fmt::format("[{}]", fmt::join(v, ", "));
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace psl
