#include "support.hpp"

#include <fmt/format.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <sstream>

namespace psl::test {

Registry& bundled() {
  static Registry* registry = [] {
    auto* r = new Registry();
    r->load_search_path();
    return r;
  }();
  return *registry;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("psl-test-{}-{}", name, ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::filesystem::path write_file(const std::filesystem::path& dir, const std::string& name, const std::string& text) {
  auto file = dir / name;
  std::ofstream(file) << text;
  return file;
}

std::string small_manifest(const std::string& extra_training, const std::string& sampler) {
  return fmt::format(R"(name = "small"
seed = 7

[data]
type = "synthetic"
samples = 600
test_samples = 200
classes = 4
shape = [1, 6, 6]
noise = 1.0

[partitioner]
type = "extended_dirichlet"
classes_per_client = 2
alpha = 3.0

[model]
type = "mlp"
hidden = [16, 16]

[sampler]
type = "{}"

[training]
clients = 6
batch_size = 32
epochs = 2
lr = 0.1
threads = 1
{}
)",
                     sampler, extra_training);
}

Experiment load(const std::filesystem::path& file, const std::vector<Override>& overrides) {
  return load_experiment(file, overrides, bundled());
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> metrics_without_wall_time(const std::filesystem::path& run) {
  std::vector<std::string> out;
  std::ifstream in(run / "metrics.csv");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) fields.push_back(x);
    if (fields.size() > 3) fields.erase(fields.begin() + 3);
    std::string joined;
    for (auto& x : fields) joined += x + ",";
    out.push_back(joined);
  }
  return out;
}

PslResult run_psl(const std::string& args) {
  PslResult r;
  FILE* pipe = ::popen((std::string(PSL_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot start " + std::string(PSL_BINARY));
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) r.output.append(buffer, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace psl::test
