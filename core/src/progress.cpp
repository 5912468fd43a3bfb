#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace psl {

double run_fraction(std::int64_t samples_done, std::int64_t total_samples, std::int64_t steps_done,
                    std::int64_t max_steps) {
  double f = total_samples > 0 ? double(samples_done) / double(total_samples) : 0.0;
  if (max_steps > 0) f = std::max(f, double(steps_done) / double(max_steps));
  return std::clamp(f, 0.0, 1.0);
}

std::optional<double> remaining_seconds(double elapsed_s, double fraction, double fraction_at_start) {
  if (fraction <= fraction_at_start || fraction >= 1) return std::nullopt;
  return elapsed_s * (1 - fraction) / (fraction - fraction_at_start);
}

Progress::Progress(bool quiet, std::int64_t total_samples, std::int64_t max_steps, std::int64_t samples_before)
    : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), total_samples_(total_samples), max_steps_(max_steps),
      samples_before_(samples_before), start_(std::chrono::steady_clock::now()), last_print_(start_) {}

void Progress::step(std::int64_t epoch, std::int64_t step, std::int64_t samples_done, double loss,
                    double samples_per_s) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = run_fraction(samples_done, total_samples_, step + 1, max_steps_);
  const double fraction_before = run_fraction(samples_before_, total_samples_, 0, 0);
  // The rate of this process (a resumed run's earlier epochs took no time here).
  const double eta = remaining_seconds(elapsed, fraction, fraction_before).value_or(0.0);
  const std::string acc = last_accuracy_ >= 0 ? fmt::format(" acc {:.2f}%", 100 * last_accuracy_) : "";
  const std::string loss_text = std::isnan(loss) ? "" : fmt::format(" loss {:.4f}", loss);
  const std::string text = fmt::format("epoch {} step {} ({:.0f}%){}{} {:.0f} samples/s ETA {:.0f}s", epoch + 1,
                                       step + 1, 100 * fraction, loss_text, acc, samples_per_s, eta);
  const bool last = fraction >= 1;
  if (tty_) {
    if (std::chrono::duration<double>(now - last_print_).count() < 0.2 && !last) return;
    fmt::print(stderr, "\r{:<100}", text);
    line_open_ = true;
  } else {
    if (fraction < next_log_fraction_ && !last) return;
    next_log_fraction_ = fraction + 0.1;
    fmt::print(stderr, "{}\n", text);
  }
  last_print_ = now;
}

void Progress::evaluated(double accuracy) { last_accuracy_ = accuracy; }

void Progress::message(const std::string& line) {
  if (quiet_) return;
  if (line_open_) fmt::print(stderr, "\n");
  line_open_ = false;
  fmt::print(stderr, "{}\n", line);
}

void Progress::finish() {
  if (!quiet_ && line_open_) fmt::print(stderr, "\n");
  line_open_ = false;
}

}  // namespace psl
