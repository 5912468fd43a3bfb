#include "sweep_progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <numeric>
#include <sstream>
#include <vector>

#include "progress.hpp"
#include "run_folder.hpp"

namespace psl {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

SweepProgress::SweepProgress(std::size_t runs, bool quiet)
    : runs_(runs), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), start_(Clock::now()), last_print_(start_) {}

void SweepProgress::started(std::size_t point, const fs::path& dir, std::int64_t epochs, std::int64_t max_steps) {
  Watch w;
  w.dir = dir;
  w.epochs = epochs;
  w.max_steps = max_steps;
  // A run that starts with rows of its own resumes: its first measurement is the part
  // done before this sweep, not part of its rate.
  std::error_code error;
  if (!fs::exists(dir / "metrics.csv", error)) w.at_start = 0;
  running_[point] = w;
}

void SweepProgress::ended(std::size_t point) {
  running_.erase(point);
  ++ended_;
}

void SweepProgress::skipped() { ++skipped_; }

namespace {
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  return out;
}
}  // namespace

void SweepProgress::read_new_rows(Watch& w) {
  if (w.total_samples == 0) {
    std::int64_t n = 0;
    for (const auto& h : read_partition_csv(w.dir / "partition.csv")) n += std::accumulate(h.begin(), h.end(), std::int64_t{0});
    w.total_samples = w.epochs * n;
  }
  const auto file = w.dir / "metrics.csv";
  std::error_code error;
  if (const auto size = fs::file_size(file, error); !error && size < w.read_up_to) {
    // A resumed run cut its file back to its checkpoint after it was first read: count
    // again, and measure again what it had done before.
    w.read_up_to = 0;
    w.samples = w.steps = 0;
    if (w.at_start > 0) resumed_ -= w.at_start, w.at_start = -1;
  }
  std::ifstream metrics(file, std::ios::binary);
  if (!metrics) return;
  metrics.seekg(std::streamoff(w.read_up_to));
  std::string line;
  while (std::getline(metrics, line)) {
    if (metrics.eof()) break;  // a row still being written: next time
    w.read_up_to += line.size() + 1;
    const auto f = fields(line);
    // Training rows: step, ..., batch_size (column 6) set; the header and evaluation rows are not counted.
    if (f.size() < 6 || f[5].empty() || f[0] == "step") continue;
    w.samples += std::stoll(f[5]);
    w.steps = std::stoll(f[0]) + 1;
  }
}

double SweepProgress::fraction(Watch& w) {
  try {
    read_new_rows(w);
  } catch (const std::exception&) {  // a file being replaced: it counts next time
  }
  const double f = run_fraction(w.samples, w.total_samples, w.steps, w.max_steps);
  if (w.at_start < 0 && w.total_samples > 0) {
    w.at_start = f;
    resumed_ += f;
  }
  return f;
}

double SweepProgress::fraction_done() {
  const double work = double(runs_ - skipped_);
  if (work <= 0) return 1;
  double done = double(ended_);
  for (auto& [point, w] : running_) done += fraction(w);
  return done / work;
}

std::string SweepProgress::status_line() {
  std::string running;
  for (auto& [point, w] : running_)
    running += fmt::format("{}{} {:.0f}%", running.empty() ? "" : "; ", w.dir.filename().string(), 100 * fraction(w));
  const double f = fraction_done();
  const double work = double(runs_ - skipped_);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string eta = "ETA unknown";
  if (const auto left = remaining_seconds(elapsed, f, work > 0 ? resumed_ / work : 0)) {
    const auto s = std::int64_t(*left);
    eta = s >= 3600 ? fmt::format("ETA {}h{:02}m", s / 3600, s / 60 % 60) : fmt::format("ETA {}m{:02}s", s / 60, s % 60);
  }
  const std::string share = skipped_ == 0 ? fmt::format("{:.0f}% of the work", 100 * f)
                                          : fmt::format("{} complete before; {:.0f}% of the other {}'s work", skipped_,
                                                        100 * f, runs_ - skipped_);
  return fmt::format("sweep: {}/{} runs done ({}){}{}, {}", ended_ + skipped_, runs_, share,
                     running.empty() ? "" : ", running: ", running, eta);
}

void SweepProgress::tick() {
  if (quiet_) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() < (tty_ ? 1.0 : 10.0)) return;
  last_print_ = now;
  fmt::print(stderr, "{}\n", status_line());
}

}  // namespace psl
