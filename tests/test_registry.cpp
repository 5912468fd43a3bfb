#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "registry.hpp"
#include "support.hpp"

using namespace psl;
using Catch::Matchers::Contains;

namespace {
std::filesystem::path fixture(const std::string& name) { return std::filesystem::path(PSL_FIXTURE_DIR) / (name + ".so"); }

std::string load_error(Registry& r, const std::filesystem::path& file) {
  try {
    r.load_library(file);
  } catch (const PluginError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("bundled plugins load from disk and register every kind", "[registry]") {
  Registry r;
  r.load_search_path();
  CHECK(r.find(Kind::Sampler, "ugs") != nullptr);
  CHECK(r.find(Kind::Sampler, "fls") != nullptr);
  CHECK(r.find(Kind::Dataset, "fashion_mnist") != nullptr);
  CHECK(r.find(Kind::Partitioner, "extended_dirichlet") != nullptr);
  CHECK(r.find(Kind::Model, "fmnist_cnn") != nullptr);
  CHECK(r.find(Kind::Delay, "straggler") != nullptr);
  const Component* ugs = r.find(Kind::Sampler, "ugs");
  CHECK(ugs->library.filename() == "psl_sampler_ugs.so");
  // Loading the same folder again is a no-op, not a duplicate.
  REQUIRE_NOTHROW(r.load_search_path());
}

TEST_CASE("a plugin with the wrong API version is refused with both versions named", "[registry]") {
  Registry r;
  const auto msg = load_error(r, fixture("wrong_abi"));
  CHECK_THAT(msg, Contains("wrong_abi.so"));
  CHECK_THAT(msg, Contains(fmt::format("wrong plugin API version: expected {}, found {}", PSL_API_VERSION, PSL_API_VERSION + 41)));
}

TEST_CASE("a plugin built with another info struct size is refused", "[registry]") {
  Registry r;
  const auto msg = load_error(r, fixture("wrong_size"));
  CHECK_THAT(msg, Contains("wrong_size.so"));
  CHECK_THAT(msg, Contains(fmt::format("expected {} bytes, found {}", sizeof(PslPluginInfo), sizeof(PslPluginInfo) + 8)));
}

TEST_CASE("a library without the entry point is refused", "[registry]") {
  Registry r;
  const auto msg = load_error(r, fixture("no_entry"));
  CHECK_THAT(msg, Contains("no_entry.so: not a psl plugin: no entry point 'psl_plugin_info'"));
}

TEST_CASE("two plugins registering one kind and name: both files named", "[registry]") {
  Registry r;
  r.load_search_path();
  const auto msg = load_error(r, fixture("duplicate_ugs"));
  CHECK_THAT(msg, Contains("sampler 'ugs' is registered twice"));
  CHECK_THAT(msg, Contains("psl_sampler_ugs.so"));
  CHECK_THAT(msg, Contains("duplicate_ugs.so"));
}

TEST_CASE("a component declaring a parameter named 'type' is refused", "[registry]") {
  Registry r;
  CHECK_THAT(load_error(r, fixture("throws_on_register")), Contains("declares a parameter named 'type'"));
  CHECK(r.find(Kind::Sampler, "typed") == nullptr);
}

TEST_CASE("plugin paths that do not exist are clear errors", "[registry]") {
  Registry r;
  CHECK_THAT(load_error(r, "/nonexistent/psl_plugin.so"), Contains("/nonexistent/psl_plugin.so: no such plugin file"));
  CHECK_THROWS_WITH(r.load_directory("/nonexistent/plugins"), Contains("/nonexistent/plugins: plugin folder does not exist"));
}

TEST_CASE("PSL_PLUGIN_PATH folders are searched after the bundled folder", "[registry]") {
  const auto dir = test::temp_dir("plugin-path");
  std::filesystem::copy_file(fixture("duplicate_ugs"), dir / "dup.so");
  ::setenv("PSL_PLUGIN_PATH", dir.c_str(), 1);
  Registry r;
  std::string msg;
  try {
    r.load_search_path();
  } catch (const PluginError& e) {
    msg = e.what();
  }
  ::unsetenv("PSL_PLUGIN_PATH");
  CHECK_THAT(msg, Contains("dup.so"));
}
