// How one run is asked to run (psl run, sample, serve), and the two ways it can end
// early; shared by the coordinator and the executors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace psl {

struct RunSettings {
  std::filesystem::path out;       // the run folder
  bool train = true;               // false: `psl sample`, no model training
  bool resume = false;             // continue the run in `out` from its last checkpoint
  bool extend = false;             // ... to the experiment's epochs, more than the run's (--epochs N)
  bool force = false;              // a fresh run into a folder holding a run moves that run aside
  bool quiet = false;
  std::filesystem::path schedule;  // `psl sample --schedule`: every (epoch, step, client, count)
  std::int64_t stop_after_epochs = 0;  // tests: stop after this many epochs, as if killed
  // transport.type = "tcp": start the K client processes on loopback (`psl run`), or
  // wait for clients started by hand (`psl serve`).
  bool spawn_clients = true;
  std::string listen;                  // overrides transport.listen (`psl serve --listen`)
};

// A run that cannot go on: bad component settings, a sampler breaking its contract, I/O.
class RunError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The run folder does not allow the run (it holds another run, another process writes
// it, its checkpoint or files do not check out). Nothing in it was changed.
class RunRefused : public RunError {
  using RunError::RunError;
};

}  // namespace psl
