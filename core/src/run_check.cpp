#include "run_check.hpp"

#include <fmt/format.h>

#include <cmath>

#include "digest.hpp"
#include "run_folder.hpp"
#include "run_summary.hpp"

namespace psl {

namespace fs = std::filesystem;

namespace {

// The rows' own story against the summary's.
void check_rows(const fs::path& dir, const RunSummary& s, std::vector<std::string>& problems) {
  std::vector<MetricsRow> rows;
  try {
    rows = MetricsLog::read(dir / "metrics.csv");
  } catch (const std::exception& e) {
    problems.push_back(e.what());
    return;
  }
  std::int64_t train = 0;
  const MetricsRow* last_eval = nullptr;
  for (const auto& r : rows) {
    if (!r.is_train) {
      last_eval = &r;
      continue;
    }
    if (r.step != train) {
      problems.push_back(fmt::format("metrics.csv: step {} where step {} was due (steps are not one sequence)", r.step,
                                     train));
      return;
    }
    ++train;
  }
  if (s.train_steps != train)
    problems.push_back(fmt::format("summary.json counts {} steps, metrics.csv holds {}", s.train_steps, train));
  if (s.test_accuracy && (!last_eval || std::abs(last_eval->test_accuracy - *s.test_accuracy) > 1e-8))
    problems.push_back("summary.json's test_accuracy is not metrics.csv's last evaluation");
}

}  // namespace

std::vector<std::string> run_folder_problems(const fs::path& dir) {
  std::vector<std::string> problems;
  RunSummary s;
  try {
    s = read_run_summary(dir);
  } catch (const std::exception& e) {
    return {e.what()};
  }
  if (!s.has_checksums)
    return {"summary.json has no checksums (written by a psl older than 0.2): its files cannot be checked against "
            "each other; run it again"};
  const std::string& status = s.status;
  if (status != "running" && status != "complete" && status != "failed")
    problems.push_back(fmt::format("summary.json: unknown status '{}'", status));

  const std::string& manifest_sum = s.manifest_sha256;
  if (!manifest_sum.empty()) {
    if (!fs::exists(dir / "manifest.toml")) problems.push_back("manifest.toml is missing");
    else if (file_sha256(dir / "manifest.toml") != manifest_sum)
      problems.push_back("manifest.toml is not the manifest this summary was written with (changed or replaced)");
  }

  const auto bytes = s.metrics_bytes;
  if (bytes == 0) return problems;  // failed before its first row
  const auto metrics = dir / "metrics.csv";
  const auto size = fs::exists(metrics) ? fs::file_size(metrics) : 0;
  if (size < bytes) {
    problems.push_back(fmt::format("metrics.csv holds {} bytes, fewer than the {} summary.json was written with", size,
                                   bytes));
    return problems;
  }
  if (file_prefix_sha256(metrics, bytes) != s.metrics_sha256) {
    problems.push_back("metrics.csv is not the file summary.json was written with (rewritten, or written by two runs)");
    return problems;
  }
  if (size == bytes) check_rows(dir, s, problems);
  else if (status != "running")  // a running run appends rows between summaries
    problems.push_back(fmt::format("metrics.csv has {} bytes after the final summary was written (a second writer?)",
                                   size - bytes));
  return problems;
}

bool run_complete(const fs::path& run) {
  if (!fs::exists(run / "summary.json")) return false;
  try {
    return read_run_summary(run).complete() && run_folder_problems(run).empty();
  } catch (const std::runtime_error&) {  // unreadable: not done
    return false;
  }
}

}  // namespace psl
