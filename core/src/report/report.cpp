#include "report/report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>

#include "report/svg_plot.hpp"
#include "run_check.hpp"

namespace psl::report {

namespace fs = std::filesystem;

namespace {

// Runs that differ only in their seed share a group: the resolved manifest without the
// seed (and name) lines.
std::string group_key(const fs::path& dir) {
  static const std::regex drop(R"(^(seed|name|threads) = .*$)", std::regex::multiline);
  return std::regex_replace(read_file(dir / "manifest.toml"), drop, "");
}

// A readable label for a group: its folder name without the seed, or its main settings.
std::string label_for(const Run& r) {
  std::string name = r.dir.filename().string();
  if (name.find('=') != std::string::npos) {
    name = std::regex_replace(name, std::regex(R"((^|,)seed=[^,]*)"), "");
    if (!name.empty() && name[0] == ',') name.erase(0, 1);
    if (!name.empty()) return name;
  }
  const auto& s = r.summary;
  return fmt::format("{} K={} B={}", s.sampler, s.num_clients, s.batch_size);
}

double mean(const std::vector<double>& v) { return v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

}  // namespace

std::vector<Run> find_runs(const std::vector<fs::path>& paths) {
  std::vector<fs::path> dirs;
  for (const auto& p : paths) {
    if (!fs::is_directory(p)) throw std::runtime_error(fmt::format("{}: not a folder", p.string()));
    if (fs::exists(p / "summary.json")) dirs.push_back(p);
    std::vector<fs::path> children;
    // Runs moved aside (--force, psl sweep) are kept for the record, not reported.
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_directory() && fs::exists(e.path() / "summary.json") &&
          e.path().filename().string().find(".replaced-") == std::string::npos)
        children.push_back(e.path());
    std::sort(children.begin(), children.end());
    dirs.insert(dirs.end(), children.begin(), children.end());
  }
  if (dirs.empty()) throw std::runtime_error("no run folders (folders with summary.json) found");
  // A number from a folder whose files disagree is not reported (docs/run-folder.md).
  std::string refused;
  for (const auto& d : dirs)
    for (const auto& problem : run_folder_problems(d)) refused += fmt::format("\n  {}: {}", d.string(), problem);
  if (!refused.empty())
    throw std::runtime_error("these run folders do not check out, so they are not reported:" + refused +
                             "\nrun them again (psl sweep reruns such runs) or leave them out");
  std::vector<Run> runs;
  std::map<std::string, std::string> labels;  // group key -> label of its first run
  for (const auto& d : dirs) {
    Run r;
    r.dir = d;
    r.summary = read_run_summary(d);
    r.metrics = MetricsLog::read(d / "metrics.csv");
    const auto key = group_key(d);
    if (!labels.count(key)) labels[key] = label_for(r);
    r.group = labels[key];
    runs.push_back(std::move(r));
  }
  return runs;
}

std::vector<GroupStats> group_stats(const std::vector<Run>& runs) {
  std::vector<GroupStats> out;
  std::map<std::string, std::size_t> index;
  std::map<std::string, std::vector<double>> acc, sim, wall, dev;
  for (const auto& r : runs) {
    if (!index.count(r.group)) {
      index[r.group] = out.size();
      GroupStats g;
      g.group = r.group;
      g.sampler = r.summary.sampler;
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
  }
  for (auto& g : out) {
    g.accuracy_mean = mean(acc[g.group]);
    g.accuracy_std = stddev(acc[g.group]);
    g.simulated_mean = mean(sim[g.group]);
    g.wall_mean = mean(wall[g.group]);
    g.deviation_mean = mean(dev[g.group]);
  }
  return out;
}

namespace {

std::string accuracy_cell(const GroupStats& g) {
  return std::isnan(g.accuracy_mean) ? "-" : fmt::format("{:.2f} ± {:.2f}", g.accuracy_mean, g.accuracy_std);
}

// Rows: sampler; columns: client count; cells: accuracy mean ± std over seeds.
std::vector<std::vector<std::string>> paper_table(const std::vector<GroupStats>& groups) {
  std::vector<std::int64_t> ks;
  std::vector<std::string> samplers;
  for (const auto& g : groups) {
    if (std::find(ks.begin(), ks.end(), g.clients) == ks.end()) ks.push_back(g.clients);
    if (std::find(samplers.begin(), samplers.end(), g.sampler) == samplers.end()) samplers.push_back(g.sampler);
  }
  std::sort(ks.begin(), ks.end());
  std::vector<std::vector<std::string>> rows = {{"sampler"}};
  for (auto k : ks) rows[0].push_back(fmt::format("K = {}", k));
  for (const auto& s : samplers) {
    std::vector<std::string> row = {s};
    for (auto k : ks) {
      std::string cell = "-";
      for (const auto& g : groups)
        if (g.sampler == s && g.clients == k) cell = accuracy_cell(g);  // the last group wins if several
      row.push_back(cell);
    }
    rows.push_back(row);
  }
  return rows;
}

std::vector<std::vector<std::string>> run_table(const std::vector<GroupStats>& groups) {
  std::vector<std::vector<std::string>> rows = {{"settings", "runs", "test accuracy % (mean ± std)", "simulated time s",
                                                 "wall time s", "mean batch deviation"}};
  for (const auto& g : groups)
    rows.push_back({g.group, std::to_string(g.runs), accuracy_cell(g), fmt::format("{:.1f}", g.simulated_mean),
                    fmt::format("{:.1f}", g.wall_mean), fmt::format("{:.4f}", g.deviation_mean)});
  return rows;
}

std::string md_table(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += "| " + fmt::format("{}", fmt::join(rows[i], " | ")) + " |\n";
    if (i == 0) {
      out += "|";
      for (std::size_t c = 0; c < rows[0].size(); ++c) out += "---|";
      out += "\n";
    }
  }
  return out;
}

std::string html_table(const std::vector<std::vector<std::string>>& rows, const std::string& id) {
  std::string out = fmt::format("<table id=\"{}\">\n", id);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += "<tr>";
    for (const auto& c : rows[i]) out += fmt::format(fmt::runtime(i == 0 ? "<th>{}</th>" : "<td>{}</td>"), escape_xml(c));
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

// Per group, the mean over its runs of a per-evaluation (or per-step) quantity.
template <class Pick>
std::vector<Series> group_series(const std::vector<Run>& runs, bool eval_rows, Pick pick, std::size_t smooth = 1) {
  std::vector<Series> out;
  std::map<std::string, std::size_t> index;
  std::map<std::string, std::vector<std::pair<double, double>>> points;
  std::map<std::string, std::size_t> counts;
  for (const auto& r : runs) {
    if (!index.count(r.group)) {
      index[r.group] = out.size();
      out.push_back({r.group, {}, {}});
    }
    ++counts[r.group];
    std::size_t i = 0;
    auto& pts = points[r.group];
    for (const auto& row : r.metrics) {
      if (row.is_train == eval_rows) continue;
      const auto [x, y] = pick(row);
      if (i >= pts.size()) pts.push_back({x, 0});
      pts[i].second += y;
      ++i;
    }
  }
  for (auto& s : out) {
    const auto& pts = points[s.name];
    const double n = double(counts[s.name]);
    double acc = 0;
    for (std::size_t i = 0; i < pts.size(); ++i) {
      acc += pts[i].second / n;
      if (i >= smooth) acc -= pts[i - smooth].second / n;
      if ((i + 1) % smooth && i + 1 != pts.size()) continue;  // one point per window
      s.x.push_back(pts[i].first);
      s.y.push_back(acc / double(std::min(smooth, i + 1)));
    }
  }
  return out;
}

std::vector<std::string> plots(const std::vector<Run>& runs) {
  std::vector<std::string> out;
  Chart acc{"Test accuracy over steps", "step", "test accuracy (%)",
            group_series(runs, true, [](const MetricsRow& r) { return std::pair{double(r.step + 1), 100 * r.test_accuracy}; })};
  out.push_back(acc.svg());
  Chart acc_time{"Test accuracy over simulated time", "simulated time (s)", "test accuracy (%)",
                 group_series(runs, true, [](const MetricsRow& r) { return std::pair{r.simulated_time_s, 100 * r.test_accuracy}; })};
  out.push_back(acc_time.svg());
  std::size_t steps = 0;
  for (const auto& r : runs) steps = std::max<std::size_t>(steps, r.metrics.size());
  Chart dev{"Batch deviation over steps (moving mean)", "step", "batch deviation (L1)",
            group_series(runs, false, [](const MetricsRow& r) { return std::pair{double(r.step), r.batch_deviation}; },
                         std::max<std::size_t>(1, steps / 100))};
  out.push_back(dev.svg());
  Chart tradeoff{"Deviation against simulated time, one point per run", "mean batch deviation", "simulated time (s)", {}};
  tradeoff.lines = false;
  std::map<std::string, std::size_t> idx;
  for (const auto& r : runs) {
    if (!idx.count(r.group)) {
      idx[r.group] = tradeoff.series.size();
      tradeoff.series.push_back({r.group, {}, {}});
    }
    auto& s = tradeoff.series[idx[r.group]];
    s.x.push_back(r.summary.mean_batch_deviation);
    s.y.push_back(r.summary.simulated_time_s);
  }
  out.push_back(tradeoff.svg());
  // The label histogram of the first run's partition (runs of one sweep usually share it).
  std::ifstream in(runs.front().dir / "partition.csv");
  std::string line;
  StackedBars bars{"Label histogram per client (" + runs.front().dir.filename().string() + ")", "client", "samples", {}, {}};
  if (std::getline(in, line)) {
    std::stringstream hs(line);
    std::string cell;
    for (int i = 0; std::getline(hs, cell, ','); ++i)
      if (i >= 2) bars.categories.push_back(cell);
    while (std::getline(in, line) && bars.bars.size() < 128) {
      std::stringstream ss(line);
      std::vector<double> bar;
      for (int i = 0; std::getline(ss, cell, ','); ++i)
        if (i >= 2) bar.push_back(std::stod(cell));
      bars.bars.push_back(bar);
    }
  }
  out.push_back(bars.svg());
  return out;
}

}  // namespace

std::string markdown(const std::vector<Run>& runs) {
  const auto groups = group_stats(runs);
  std::string out = "## Test accuracy by sampler and client count (mean ± std over seeds, %)\n\n";
  out += md_table(paper_table(groups));
  out += "\n## Every setting\n\n" + md_table(run_table(groups));
  return out;
}

std::string html(const std::vector<Run>& runs) {
  const auto groups = group_stats(runs);
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>psl report</title>\n<style>"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;}table{border-collapse:collapse;margin:1em 0;}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;}th{background:#f4f4f4;}"
      "td:first-child{text-align:left;}figure{margin:1em 0;}</style></head><body>\n";
  out += fmt::format("<h1>psl report</h1>\n<p>{} runs in {} settings.</p>\n", runs.size(), groups.size());
  out += "<h2>Test accuracy by sampler and client count (mean ± std over seeds, %)</h2>\n";
  out += html_table(paper_table(groups), "paper-table");
  out += "<h2>Every setting</h2>\n" + html_table(run_table(groups), "runs-table");
  out += "<h2>Plots</h2>\n";
  for (const auto& svg : plots(runs)) out += "<figure>\n" + svg + "</figure>\n";
  return out + "</body></html>\n";
}

int command_report(const ReportOptions& o) {
  try {
    std::vector<fs::path> paths(o.paths.begin(), o.paths.end());
    const auto runs = find_runs(paths);
    const std::string text = o.format == "md" ? markdown(runs) : html(runs);
    if (o.output.empty() || o.output == "-") {
      fmt::print("{}", text);
    } else {
      write_file_atomic(o.output, text);
      fmt::print(stderr, "report of {} runs written to {}\n", runs.size(), o.output);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "psl report: {}\n", e.what());
    return 1;
  }
}

}  // namespace psl::report
