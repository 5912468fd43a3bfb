// The PSL coordinator: one run of a manifest, simulated or with real clients. It builds
// the components the manifest names and runs the step loop of docs/step-loop.md (plan,
// execute, record), or only plans, for `psl sample`.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>

#include "manifest.hpp"
#include "registry.hpp"
#include "run_settings.hpp"
#include "run_summary.hpp"

namespace psl {

// Runs the experiment, writes summary.json and returns what it wrote; throws RunError
// after recording the failure in summary.json (status "failed"), so the folder stays
// readable, or RunRefused, having written nothing.
RunSummary run_experiment(const Experiment& experiment, Registry& registry, const RunSettings& settings);

}  // namespace psl
