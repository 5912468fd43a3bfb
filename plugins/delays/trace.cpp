// Per-client timings from a CSV device trace (FedScale style):
//   client,compute_s_per_sample,bandwidth_mbps[,latency_s]
// One row per device; client k uses row k mod rows, so a small trace serves any K.
#include <fmt/format.h>
#include <psl/api/delay_model.hpp>
#include <psl/plugin.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

class Trace : public psl::DelayModel {
 public:
  explicit Trace(const psl::Context& ctx) : server_(ctx.params.get_float("server_s_per_sample")) {
    std::filesystem::path file = ctx.params.get_string("file");
    if (file.is_relative()) file = ctx.base_dir / file;
    read(file.string(), ctx.params.get_float("latency_s"));
  }

  void setup(std::int64_t, psl::Rng&) override {}
  psl::ClientTiming expected(std::int64_t client) const override { return rows_[std::size_t(client) % rows_.size()]; }
  double server_s_per_sample() const override { return server_; }

 private:
  void read(const std::string& path, double default_latency) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot open trace file", path));
    std::string line;
    int line_no = 0;
    bool header = false;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> fields;
      std::stringstream ss(line);
      for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
      if (!header) {
        if (fields.size() < 3 || fields[0] != "client" || fields[1] != "compute_s_per_sample" ||
            fields[2] != "bandwidth_mbps")
          throw std::runtime_error(fmt::format("{}:{}: expected the header "
                                               "'client,compute_s_per_sample,bandwidth_mbps[,latency_s]'",
                                               path, line_no));
        header = true;
        continue;
      }
      if (fields.size() < 3 || fields.size() > 4)
        throw std::runtime_error(fmt::format("{}:{}: expected 3 or 4 fields, found {}", path, line_no, fields.size()));
      auto number = [&](std::size_t i, const char* name) {
        try {
          std::size_t used = 0;
          double v = std::stod(fields[i], &used);
          if (used != fields[i].size() || !(v >= 0)) throw std::invalid_argument(name);
          return v;
        } catch (const std::exception&) {
          throw std::runtime_error(
              fmt::format("{}:{}: {} '{}' is not a non-negative number", path, line_no, name, fields[i]));
        }
      };
      psl::ClientTiming t;
      t.compute_s_per_sample = number(1, "compute_s_per_sample");
      const double mbps = number(2, "bandwidth_mbps");
      if (mbps <= 0) throw std::runtime_error(fmt::format("{}:{}: bandwidth_mbps must be > 0", path, line_no));
      t.uplink_bytes_per_s = t.downlink_bytes_per_s = mbps * 1e6 / 8;
      t.latency_s = fields.size() == 4 ? number(3, "latency_s") : default_latency;
      rows_.push_back(t);
    }
    if (rows_.empty()) throw std::runtime_error(fmt::format("{}: the trace has no device rows", path));
  }

  std::vector<psl::ClientTiming> rows_;
  double server_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_delay(
      {"trace", "per-client compute speed and bandwidth from a CSV device trace (client k uses row k mod rows)",
       {psl::param_required("file", psl::ParamType::String,
                            "CSV: client,compute_s_per_sample,bandwidth_mbps[,latency_s]; relative to the manifest"),
        psl::param_float("latency_s", 0.01, "latency of rows without a latency_s column").at_least(0),
        psl::param_float("server_s_per_sample", 0.00001, "server seconds per sample of the global batch").at_least(0)}},
      [](const psl::Context& ctx) { return std::make_unique<Trace>(ctx); });
}
