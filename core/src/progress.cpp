#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

namespace psl {

Progress::Progress(bool quiet, std::int64_t total_steps)
    : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), total_(total_steps),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

void Progress::step(std::int64_t epoch, std::int64_t step, double loss, double samples_per_s) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::int64_t done = step + 1;
  // total_ is an estimate (FLS and FPLS epochs run longer than ceil(N/B) steps).
  const double eta = total_ > done ? elapsed * double(total_ - done) / double(done) : 0.0;
  const std::int64_t shown_total = std::max(total_, done);
  const std::string acc = last_accuracy_ >= 0 ? fmt::format(" acc {:.2f}%", 100 * last_accuracy_) : "";
  const std::string loss_text = std::isnan(loss) ? "" : fmt::format(" loss {:.4f}", loss);
  const std::string text = fmt::format("epoch {} step {}/{}{}{} {:.0f} samples/s ETA {:.0f}s", epoch + 1, done, shown_total,
                                       loss_text, acc, samples_per_s, eta);
  if (tty_) {
    if (std::chrono::duration<double>(now - last_print_).count() < 0.2 && done != total_) return;
    fmt::print(stderr, "\r{:<100}", text);
    line_open_ = true;
  } else {
    if (done < next_log_step_ && done != total_) return;
    next_log_step_ = done + std::max<std::int64_t>(1, total_ / 10);
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
