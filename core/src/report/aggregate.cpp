#include "report/aggregate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace psl::report {

double mean(const std::vector<double>& v) {
  return v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

TrafficMb traffic_mb(const RunSummary& s) {
  if (s.bytes.up() > 0) return {s.bytes.up() / 1e6, s.bytes.down() / 1e6};
  const double activations = s.activation_bytes_per_sample * double(s.train_samples) / 1e6;
  return {activations, activations};
}

std::vector<Run> complete_runs(const std::vector<Run>& runs) {
  std::vector<Run> out;
  for (const auto& r : runs)
    if (r.summary.status == "complete") out.push_back(r);
  return out;
}

std::string left_out_of_means(const std::vector<Run>& runs) {
  std::vector<std::string> names;
  for (const auto& r : runs)
    if (r.summary.status != "complete")  // a failed one with its error: a seed that diverged is a result
      names.push_back(fmt::format("{} ({}, {})", r.dir.filename().string(), r.summary.status, epochs_done_note(r.summary)));
  if (names.empty()) return "";
  return fmt::format("Left out of the tables of means: {} of {} runs are not complete (they would enter with the "
                     "numbers of their last evaluation): {}.",
                     names.size(), runs.size(), fmt::join(names, "; "));
}

std::vector<GroupStats> group_stats(const std::vector<Run>& runs) {
  std::vector<GroupStats> out;
  std::map<std::string, std::size_t> index;
  std::map<std::string, std::vector<double>> acc, sim, wall, dev, up, down, f1, wait, online;
  std::map<std::string, std::vector<std::vector<double>>> classes;  // group -> class -> values
  for (const auto& r : runs) {
    if (!index.count(r.group)) {
      index[r.group] = out.size();
      GroupStats g;
      g.group = r.group;
      g.sampler = r.summary.sampler;
      g.protocol = r.summary.protocol;
      g.clients = r.summary.num_clients;
      g.batch_size = r.summary.batch_size;
      out.push_back(g);
    }
    auto& g = out[index[r.group]];
    ++g.runs;
    if (r.summary.test_accuracy) acc[r.group].push_back(100 * *r.summary.test_accuracy);
    sim[r.group].push_back(r.summary.simulated_time_s);
    wall[r.group].push_back(r.summary.wall_time_s);
    dev[r.group].push_back(r.summary.mean_batch_deviation);
    const TrafficMb traffic = traffic_mb(r.summary);
    up[r.group].push_back(traffic.up);
    down[r.group].push_back(traffic.down);
    wait[r.group].push_back(r.summary.availability_wait_s);
    online[r.group].push_back(r.summary.mean_online_clients);
    if (r.summary.macro_f1) f1[r.group].push_back(*r.summary.macro_f1);
    auto& per_class = classes[r.group];
    const auto& mine = r.summary.per_class_accuracy;
    if (per_class.size() < mine.size()) per_class.resize(mine.size());
    for (std::size_t c = 0; c < mine.size(); ++c)
      if (!std::isnan(mine[c])) per_class[c].push_back(100 * mine[c]);
  }
  for (auto& g : out) {
    g.accuracy_mean = mean(acc[g.group]);
    g.accuracy_std = stddev(acc[g.group]);
    g.simulated_mean = mean(sim[g.group]);
    g.wall_mean = mean(wall[g.group]);
    g.deviation_mean = mean(dev[g.group]);
    g.up_mb_mean = mean(up[g.group]);
    g.down_mb_mean = mean(down[g.group]);
    g.availability_wait_mean = mean(wait[g.group]);
    g.online_clients_mean = mean(online[g.group]);
    g.macro_f1_mean = mean(f1[g.group]);
    for (const auto& values : classes[g.group]) g.class_accuracy_mean.push_back(mean(values));
  }
  return out;
}

namespace {
// One run's points of the spec's metric against its x axis, smoothed where asked.
SeedLine run_points(const Run& run, const CurveSpec& spec) {
  SeedLine line{run.dir.filename().string(), {}, {}};
  const bool eval = spec.metric == Metric::TestAccuracy;
  std::int64_t samples = 0;
  std::vector<double> xs, ys;
  for (const auto& row : run.metrics) {
    if (row.is_train) samples += row.batch_size;
    if (row.is_train == eval) continue;
    const double x = spec.x == XAxis::Step      ? double(row.step + 1)
                     : spec.x == XAxis::Samples ? double(samples)
                                                : row.simulated_time_s;
    const double y = spec.metric == Metric::TestAccuracy ? 100 * row.test_accuracy
                     : spec.metric == Metric::TrainLoss  ? row.loss
                                                         : row.batch_deviation;
    xs.push_back(x);
    ys.push_back(y);
  }
  const std::size_t w = eval ? 1 : std::max<std::size_t>(1, spec.smooth);
  // Moving mean over windows of w points, one point per window (the last may be shorter).
  for (std::size_t start = 0; start < xs.size(); start += w) {
    const std::size_t end = std::min(xs.size(), start + w);
    double sum = 0;
    for (std::size_t i = start; i < end; ++i) sum += ys[i];
    line.x.push_back(xs[end - 1]);
    line.y.push_back(sum / double(end - start));
  }
  return line;
}
}  // namespace

std::vector<Curve> curves(const std::vector<Run>& runs, const CurveSpec& spec) {
  std::vector<Curve> out;
  std::map<std::string, std::size_t> index;
  for (const auto& r : runs) {
    if (!index.count(r.group)) {
      index[r.group] = out.size();
      out.push_back(Curve{r.group, {}, {}, {}, {}, {}});
    }
    out[index[r.group]].seeds.push_back(run_points(r, spec));
  }
  for (auto& c : out) {
    std::size_t longest = 0;
    for (const auto& s : c.seeds) longest = std::max(longest, s.x.size());
    for (std::size_t i = 0; i < longest; ++i) {
      std::vector<double> xs, ys;
      for (const auto& s : c.seeds)
        if (i < s.x.size() && std::isfinite(s.y[i])) xs.push_back(s.x[i]), ys.push_back(s.y[i]);
      if (ys.empty()) continue;
      const double m = mean(ys);
      c.x.push_back(mean(xs));
      c.mean.push_back(m);
      if (spec.band == Band::Std) {
        c.lo.push_back(m - stddev(ys));
        c.hi.push_back(m + stddev(ys));
      } else {
        c.lo.push_back(*std::min_element(ys.begin(), ys.end()));
        c.hi.push_back(*std::max_element(ys.begin(), ys.end()));
      }
    }
  }
  return out;
}

std::size_t smoothing_window(const std::vector<Run>& runs, std::size_t points) {
  std::size_t steps = 0;
  for (const auto& r : runs) steps = std::max<std::size_t>(steps, std::size_t(r.summary.train_steps));
  return std::max<std::size_t>(1, steps / points);
}

std::optional<Reached> time_to_accuracy(const Run& run, double target) {
  std::int64_t samples = 0;
  for (const auto& row : run.metrics) {
    if (row.is_train) {
      samples += row.batch_size;
      continue;
    }
    if (row.test_accuracy >= target) return Reached{row.step + 1, samples, row.simulated_time_s, row.wall_time_s};
  }
  return std::nullopt;
}

std::vector<double> accuracy_by_epoch(const Run& run) {
  std::vector<double> out;
  for (const auto& row : run.metrics) {
    if (row.is_train || row.epoch < 0) continue;
    const auto e = static_cast<std::size_t>(row.epoch);
    if (out.size() <= e) out.resize(e + 1, NAN);
    out[e] = row.test_accuracy;  // rows are in step order: the last one of the epoch stays
  }
  return out;
}

}  // namespace psl::report
