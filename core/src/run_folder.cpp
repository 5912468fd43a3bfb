#include "run_folder.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace psl {

void write_file_atomic(const std::filesystem::path& file, const std::string& content) {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("{}: cannot write", tmp));
  }
  std::filesystem::rename(tmp, file);
}

const char* MetricsLog::header() {
  return "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
         "straggler_wait_s,deferred,test_accuracy,test_loss";
}

MetricsLog::MetricsLog(const std::filesystem::path& dir, bool resume, std::uintmax_t keep_bytes)
    : file_(dir / "metrics.csv") {
  if (resume) {
    std::filesystem::resize_file(file_, keep_bytes);
    out_.open(file_, std::ios::app);
  } else {
    out_.open(file_, std::ios::trunc);
    out_ << header() << '\n';
  }
  out_.flush();
  if (!out_) throw std::runtime_error(fmt::format("{}: cannot write", file_.string()));
}

namespace {
std::string num(double v) { return std::isnan(v) ? "" : fmt::format("{:.9g}", v); }
}  // namespace

void MetricsLog::append(const MetricsRow& r) {
  if (r.is_train) {
    out_ << fmt::format("{},{},{},{},{},{},{},{},{},{},{},,\n", r.step, r.epoch, num(r.simulated_time_s),
                        num(r.wall_time_s), num(r.loss), r.batch_size, r.active_clients, num(r.batch_deviation),
                        num(r.step_time_s), num(r.straggler_wait_s), r.deferred);
  } else {
    out_ << fmt::format("{},{},{},{},,,,,,,,{},{}\n", r.step, r.epoch, num(r.simulated_time_s), num(r.wall_time_s),
                        num(r.test_accuracy), num(r.test_loss));
  }
  out_.flush();
}

std::uintmax_t MetricsLog::bytes() const { return std::filesystem::file_size(file_); }

std::vector<MetricsRow> MetricsLog::read(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", file.string()));
  std::vector<MetricsRow> rows;
  std::string line;
  std::getline(in, line);
  if (line != header()) throw std::runtime_error(fmt::format("{}:1: not a psl metrics header", file.string()));
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    while (f.size() < 13) f.emplace_back();
    auto d = [&](int i) { return f[i].empty() ? NAN : std::stod(f[i]); };
    auto n = [&](int i) { return f[i].empty() ? std::int64_t{0} : std::stoll(f[i]); };
    try {
      MetricsRow r;
      r.step = n(0);
      r.epoch = n(1);
      r.simulated_time_s = d(2);
      r.wall_time_s = d(3);
      r.is_train = !f[5].empty();
      if (r.is_train) {
        r.loss = d(4);
        r.batch_size = n(5);
        r.active_clients = n(6);
        r.batch_deviation = d(7);
        r.step_time_s = d(8);
        r.straggler_wait_s = d(9);
        r.deferred = n(10);
      } else {
        r.test_accuracy = d(11);
        r.test_loss = d(12);
      }
      rows.push_back(r);
    } catch (const std::exception&) {
      throw std::runtime_error(fmt::format("{}:{}: malformed metrics row", file.string(), line_no));
    }
  }
  return rows;
}

void write_partition_csv(const std::filesystem::path& file, const std::vector<std::vector<std::int64_t>>& histograms) {
  std::string out = "client,samples";
  const std::size_t classes = histograms.empty() ? 0 : histograms[0].size();
  for (std::size_t c = 0; c < classes; ++c) out += fmt::format(",class_{}", c);
  out += '\n';
  for (std::size_t k = 0; k < histograms.size(); ++k) {
    const auto& h = histograms[k];
    out += fmt::format("{},{},{}\n", k, std::accumulate(h.begin(), h.end(), std::int64_t{0}), fmt::join(h, ","));
  }
  write_file_atomic(file, out);
}

nlohmann::json read_summary(const std::filesystem::path& dir) {
  const auto file = dir / "summary.json";
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read it", file.string()));
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: unreadable summary.json: {}", file.string(), e.what()));
  }
}

}  // namespace psl
