// Per-client timings from a CSV device trace (FedScale style):
//   client,compute_s_per_sample,bandwidth_mbps[,latency_s]
// One row per device; client k uses row k mod rows, so a small trace serves any K.
// Optionally, when each client is online, from a second CSV (docs/time-model.md):
//   client,online_from_s,online_until_s
// any number of windows per client, in time order; a client without rows is always online.
#include <fmt/format.h>
#include <psl/api/delay_model.hpp>
#include <psl/plugin.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace {

class Trace : public psl::DelayModel {
 public:
  explicit Trace(const psl::Context& ctx) : server_(ctx.params.get_float("server_s_per_sample")) {
    read(path_of(ctx, "file"), ctx.params.get_float("latency_s"));
    if (!ctx.params.get_string("availability_file").empty()) read_windows(path_of(ctx, "availability_file"));
  }

  void setup(std::int64_t clients, psl::Rng&) override {
    for (const auto& [client, w] : windows_)
      if (client >= clients)
        throw std::runtime_error(fmt::format("{}:{}: client {}, but the run has {} clients (0..{})", windows_file_,
                                             w.front().line, client, clients, clients - 1));
  }
  psl::ClientTiming expected(std::int64_t client) const override { return rows_[std::size_t(client) % rows_.size()]; }
  double server_s_per_sample() const override { return server_; }
  bool has_availability() const override { return !windows_.empty(); }
  double next_online_s(std::int64_t client, double t) const override {
    const auto it = windows_.find(client);
    if (it == windows_.end()) return t;
    // The first window that ends after t: online now if it has begun, else at its start.
    const auto& w = it->second;
    const auto next = std::upper_bound(w.begin(), w.end(), t, [](double x, const Window& v) { return x < v.until; });
    if (next == w.end()) return INFINITY;
    return std::max(t, next->from);
  }

 private:
  struct Window {
    double from, until;
    int line;
  };

  static std::string path_of(const psl::Context& ctx, const char* key) {
    std::filesystem::path file = ctx.params.get_string(key);
    if (file.is_relative()) file = ctx.base_dir / file;
    return file.string();
  }

  // Rows of a CSV file after its header (which must begin with `header`), with their
  // line numbers.
  static std::vector<std::pair<int, std::vector<std::string>>> csv_rows(const std::string& path,
                                                                        const std::string& header,
                                                                        const std::string& shown_header) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path));
    std::vector<std::pair<int, std::vector<std::string>>> rows;
    std::string line;
    int line_no = 0;
    bool seen_header = false;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> fields;
      std::stringstream ss(line);
      for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
      if (!seen_header) {
        if (line.rfind(header, 0) != 0)
          throw std::runtime_error(fmt::format("{}:{}: expected the header '{}'", path, line_no, shown_header));
        seen_header = true;
        continue;
      }
      rows.emplace_back(line_no, std::move(fields));
    }
    return rows;
  }

  static double number(const std::string& path, int line_no, const std::string& text, const char* name) {
    try {
      std::size_t used = 0;
      const double v = std::stod(text, &used);
      if (used != text.size() || !(v >= 0)) throw std::invalid_argument(name);
      return v;
    } catch (const std::exception&) {
      throw std::runtime_error(fmt::format("{}:{}: {} '{}' is not a non-negative number", path, line_no, name, text));
    }
  }

  void read_windows(const std::string& path) {
    windows_file_ = path;
    for (const auto& [line_no, f] : csv_rows(path, "client,online_from_s,online_until_s", "client,online_from_s,online_until_s")) {
      if (f.size() != 3)
        throw std::runtime_error(fmt::format("{}:{}: expected 3 fields, found {}", path, line_no, f.size()));
      const double client = number(path, line_no, f[0], "client");
      if (client != std::floor(client))
        throw std::runtime_error(fmt::format("{}:{}: client '{}' is not a whole number", path, line_no, f[0]));
      const Window w{number(path, line_no, f[1], "online_from_s"), number(path, line_no, f[2], "online_until_s"),
                     line_no};
      if (!(w.from < w.until))
        throw std::runtime_error(fmt::format("{}:{}: the window ends ({:g} s) before it begins ({:g} s)", path,
                                             line_no, w.until, w.from));
      auto& list = windows_[std::int64_t(client)];
      if (!list.empty() && w.from < list.back().until)
        throw std::runtime_error(fmt::format("{}:{}: client {}'s window begins at {:g} s, before its window of line "
                                             "{} ends ({:g} s): give each client's windows in time order, apart",
                                             path, line_no, std::int64_t(client), w.from, list.back().line,
                                             list.back().until));
      list.push_back(w);
    }
    if (windows_.empty()) throw std::runtime_error(fmt::format("{}: no availability windows", path));
  }

  void read(const std::string& path, double default_latency) {
    for (const auto& [line_no, f] : csv_rows(path, "client,compute_s_per_sample,bandwidth_mbps",
                                              "client,compute_s_per_sample,bandwidth_mbps[,latency_s]")) {
      if (f.size() < 3 || f.size() > 4)
        throw std::runtime_error(fmt::format("{}:{}: expected 3 or 4 fields, found {}", path, line_no, f.size()));
      psl::ClientTiming t;
      t.compute_s_per_sample = number(path, line_no, f[1], "compute_s_per_sample");
      const double mbps = number(path, line_no, f[2], "bandwidth_mbps");
      if (mbps <= 0) throw std::runtime_error(fmt::format("{}:{}: bandwidth_mbps must be > 0", path, line_no));
      t.uplink_bytes_per_s = t.downlink_bytes_per_s = mbps * 1e6 / 8;
      t.latency_s = f.size() == 4 ? number(path, line_no, f[3], "latency_s") : default_latency;
      rows_.push_back(t);
    }
    if (rows_.empty()) throw std::runtime_error(fmt::format("{}: the trace has no device rows", path));
  }

  std::vector<psl::ClientTiming> rows_;
  double server_;
  std::map<std::int64_t, std::vector<Window>> windows_;  // per client, in time order
  std::string windows_file_;
};

}  // namespace

PSL_PLUGIN() {
  registrar.add_delay(
      {"trace", "per-client compute speed and bandwidth from a CSV device trace (client k uses row k mod rows)",
       {psl::param_required("file", psl::ParamType::String,
                            "CSV: client,compute_s_per_sample,bandwidth_mbps[,latency_s]; relative to the manifest"),
        psl::param_float("latency_s", 0.01, "latency of rows without a latency_s column").at_least(0),
        psl::param_string("availability_file", "",
                          "CSV: client,online_from_s,online_until_s (windows in time order; a client without rows is "
                          "always online); relative to the manifest; empty: always online"),
        psl::param_float("server_s_per_sample", 0.00001, "server seconds per sample of the global batch").at_least(0)}},
      [](const psl::Context& ctx) { return std::make_unique<Trace>(ctx); });
}
