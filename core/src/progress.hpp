// Progress output: one rewritten line on a terminal, plain log lines otherwise, nothing
// with --quiet. Always on stderr, so stdout stays for results.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace psl {

class Progress {
 public:
  Progress(bool quiet, std::int64_t total_steps);
  // Called every step; prints at most a few times per second (a terminal) or every 10%.
  void step(std::int64_t epoch, std::int64_t step, double loss, double samples_per_s);
  void evaluated(double accuracy);
  void message(const std::string& line);  // a line that stays
  void finish();

 private:
  bool quiet_, tty_;
  std::int64_t total_;
  double last_accuracy_ = -1;
  std::int64_t next_log_step_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool line_open_ = false;
};

}  // namespace psl
