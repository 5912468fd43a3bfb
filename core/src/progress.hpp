// Progress output: one rewritten line on a terminal, plain log lines otherwise, nothing
// with --quiet. Always on stderr, so stdout stays for results. Progress is counted in
// samples, not steps: FLS and FPLS add steps as their batches shrink, the samples of an
// epoch stay N.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace psl {

// How far a run is, 0..1: by samples (of epochs x N), or by steps when max_steps ends it sooner.
double run_fraction(std::int64_t samples_done, std::int64_t total_samples, std::int64_t steps_done,
                    std::int64_t max_steps);

// Seconds left at the rate of this process: `elapsed_s` took it from `fraction_at_start`
// (what a resumed run or sweep had done before) to `fraction`. None before any gain.
std::optional<double> remaining_seconds(double elapsed_s, double fraction, double fraction_at_start);

class Progress {
 public:
  // total_samples: epochs x N; max_steps: 0 or where the run stops; samples_before: what
  // a resumed run had done already.
  Progress(bool quiet, std::int64_t total_samples, std::int64_t max_steps, std::int64_t samples_before);
  // Called every step; prints at most a few times per second (a terminal) or every 10%.
  void step(std::int64_t epoch, std::int64_t step, std::int64_t samples_done, double loss, double samples_per_s);
  void evaluated(double accuracy);
  void message(const std::string& line);  // a line that stays
  void finish();

 private:
  bool quiet_, tty_;
  std::int64_t total_samples_, max_steps_, samples_before_;
  double last_accuracy_ = -1;
  double next_log_fraction_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool line_open_ = false;
};

}  // namespace psl
