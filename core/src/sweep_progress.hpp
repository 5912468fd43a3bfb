// What `psl sweep` shows while it runs: runs done, how far each running run is (read
// from its metrics.csv as it grows, counted in samples as a run's own progress is), and
// an ETA for the whole sweep from the rate so far. A resumed run's epochs from before
// count as done but not toward that rate: they took no time of this sweep.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace psl {

class SweepProgress {
 public:
  SweepProgress(std::size_t runs, bool quiet);
  void started(std::size_t point, const std::filesystem::path& dir, std::int64_t epochs, std::int64_t max_steps);
  void ended(std::size_t point);  // complete or failed
  void skipped();                 // complete before this sweep started
  // The fraction of the sweep's remaining work done so far, 0..1, and the line shown.
  double fraction_done();
  std::string status_line();
  // Prints the status line if it is time: every 10 s (every second on a terminal).
  void tick();

 private:
  struct Watch {
    std::filesystem::path dir;
    std::int64_t epochs = 1, max_steps = 0;
    std::int64_t total_samples = 0;  // epochs x N, once partition.csv is there
    std::int64_t samples = 0, steps = 0;
    std::uintmax_t read_up_to = 0;   // bytes of metrics.csv already counted
    double at_start = -1;            // a resumed run's earlier epochs: its fraction when first measured
  };
  void read_new_rows(Watch& w);
  double fraction(Watch& w);

  std::size_t runs_, ended_ = 0, skipped_ = 0;
  double resumed_ = 0;  // the sum of the runs' at_start: work done before this sweep started
  bool quiet_, tty_;
  std::map<std::size_t, Watch> running_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace psl
