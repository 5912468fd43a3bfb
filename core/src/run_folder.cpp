#include "run_folder.hpp"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace psl {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const char* what) {
  throw std::runtime_error(fmt::format("{}: cannot {}: {}", file.string(), what, std::strerror(errno)));
}

void write_all(int fd, const std::filesystem::path& file, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(file, "write");
    bytes.remove_prefix(std::size_t(n));
  }
}

// A rename is durable only once the folder holding it is synced.
void sync_folder(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(dir, "open the folder");
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& file, const std::string& content, unsigned mode) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  ::unlink(tmp.c_str());  // a stale one from a killed writer may have other permissions
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode));
  if (fd < 0) fail(tmp, "create");
  try {
    write_all(fd, tmp, content);
    if (::fsync(fd) != 0) fail(tmp, "sync");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  std::filesystem::rename(tmp, file);
  sync_folder(file.parent_path());
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read it", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool holds_run(const std::filesystem::path& dir) {
  for (const char* name : {"manifest.toml", "metrics.csv", "summary.json", "checkpoint.bin", "checkpoint.pt",
                           "checkpoint.json"})
    if (std::filesystem::exists(dir / name)) return true;
  return false;
}

std::filesystem::path move_aside(const std::filesystem::path& dir) {
  const std::time_t now = std::time(nullptr);
  const auto base = fmt::format("{}.replaced-{:%Y%m%d-%H%M%S}", dir.string(), fmt::localtime(now));
  std::filesystem::path target = base;
  for (int n = 2; std::filesystem::exists(target); ++n) target = fmt::format("{}-{}", base, n);
  std::filesystem::rename(dir, target);
  return target;
}

const char* MetricsLog::header() {
  return "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
         "straggler_wait_s,deferred,test_accuracy,test_loss,test_macro_f1,test_class_accuracy,bytes_up,bytes_down,"
         "weight_bytes_up,weight_bytes_down,online_clients,availability_wait_s";
}

const char* MetricsLog::header_before_availability() {
  return "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
         "straggler_wait_s,deferred,test_accuracy,test_loss,test_macro_f1,test_class_accuracy,bytes_up,bytes_down,"
         "weight_bytes_up,weight_bytes_down";
}

const char* MetricsLog::header_before_bytes() {
  return "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
         "straggler_wait_s,deferred,test_accuracy,test_loss,test_macro_f1,test_class_accuracy";
}

const char* MetricsLog::header_before_f1() {
  return "step,epoch,simulated_time_s,wall_time_s,loss,batch_size,active_clients,batch_deviation,step_time_s,"
         "straggler_wait_s,deferred,test_accuracy,test_loss";
}

MetricsLog::MetricsLog(const std::filesystem::path& dir, bool resume, std::uintmax_t keep_bytes)
    : file_(dir / "metrics.csv") {
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) fail(file_, "open");
  if (resume) {
    // Cut back to what the checkpoint recorded (rows of a half-finished epoch), never
    // padded: a shorter file is a different run's and is refused before this.
    if (std::filesystem::file_size(file_) < keep_bytes)
      throw std::runtime_error(fmt::format("{}: shorter than the {} bytes its checkpoint recorded", file_.string(),
                                           keep_bytes));
    if (::ftruncate(fd_, off_t(keep_bytes)) != 0) fail(file_, "truncate");
    bytes_ = keep_bytes;
  } else {
    append_text(std::string(header()) + "\n");
  }
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::append_text(const std::string& text) {
  write_all(fd_, file_, text);
  bytes_ += text.size();
}

void MetricsLog::sync() {
  if (::fsync(fd_) != 0) fail(file_, "sync");
}

namespace {
std::string num(double v) { return std::isnan(v) ? "" : fmt::format("{:.9g}", v); }
// The columns summary.json sums or ranks: written so that they read back as the same
// double, so a resumed run continues from exactly the totals it stopped at.
std::string exact(double v) { return std::isnan(v) ? "" : fmt::format("{}", v); }
}  // namespace

void MetricsLog::append(const MetricsRow& r) {
  if (r.is_train) {
    append_text(fmt::format("{},{},{},{},{},{},{},{},{},{},{},,,,,{},{},{},{},{},{}\n", r.step, r.epoch,
                            exact(r.simulated_time_s), num(r.wall_time_s), num(r.loss), r.batch_size,
                            r.active_clients, exact(r.batch_deviation), num(r.step_time_s), exact(r.straggler_wait_s),
                            r.deferred, exact(r.bytes.up()), exact(r.bytes.down()), exact(r.bytes.weights_up),
                            exact(r.bytes.weights_down), r.online_clients, exact(r.availability_wait_s)));
  } else {
    std::vector<std::string> per_class;  // one cell: values joined by ';'
    for (double a : r.test_class_accuracy) per_class.push_back(num(a));
    append_text(fmt::format("{},{},{},{},,,,,,,,{},{},{},{},,,,,,\n", r.step, r.epoch, num(r.simulated_time_s),
                            num(r.wall_time_s), num(r.test_accuracy), num(r.test_loss), num(r.test_macro_f1),
                            fmt::join(per_class, ";")));
  }
}

std::vector<MetricsRow> MetricsLog::read(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open", file.string()));
  std::vector<MetricsRow> rows;
  std::string line;
  std::getline(in, line);
  if (line != header() && line != header_before_availability() && line != header_before_bytes() &&
      line != header_before_f1())
    throw std::runtime_error(fmt::format("{}:1: not a psl metrics header", file.string()));
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    while (f.size() < 21) f.emplace_back();
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
        if (!f[15].empty()) {  // files of psl before protocols have no byte counts
          r.bytes.weights_up = d(17);
          r.bytes.weights_down = d(18);
          r.bytes.activations = d(15) - r.bytes.weights_up;
          r.bytes.gradients = d(16) - r.bytes.weights_down;
        }
        r.online_clients = n(19);  // 0 in files written before availability
        r.availability_wait_s = f[20].empty() ? 0.0 : d(20);
      } else {
        r.test_accuracy = d(11);
        r.test_loss = d(12);
        r.test_macro_f1 = d(13);
        std::stringstream classes(f[14]);
        for (std::string a; std::getline(classes, a, ';');) r.test_class_accuracy.push_back(a.empty() ? NAN : std::stod(a));
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

std::vector<std::vector<std::int64_t>> read_partition_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<std::int64_t>> histograms;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::vector<std::int64_t> row;
    std::string cell;
    for (int i = 0; std::getline(ss, cell, ','); ++i)
      if (i >= 2) row.push_back(std::stoll(cell));  // after client and samples
    histograms.push_back(std::move(row));
  }
  return histograms;
}

}  // namespace psl
