#include "report/tables.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "report/svg_plot.hpp"

namespace psl::report {

namespace {
std::string accuracy_cell(const GroupStats& g) {
  return std::isnan(g.accuracy_mean) ? "-" : fmt::format("{:.2f} ± {:.2f}", g.accuracy_mean, g.accuracy_std);
}
std::string number(double v, const char* format = "{:.1f}") {
  return std::isnan(v) ? "-" : fmt::format(fmt::runtime(format), v);
}
}  // namespace

Table fixed_settings_table(const SettingsDiff& d) {
  Table rows = {{"setting (the same in every run)", "value"}};
  for (const auto& [k, v] : d.fixed) rows.push_back({k, v});
  return rows;
}

Table varying_settings_table(const SettingsDiff& d) {
  Table rows = {{"setting (varies)", "values"}};
  for (const auto& [k, values] : d.varying) rows.push_back({k, fmt::format("{}", fmt::join(values, ", "))});
  return rows;
}

Table paper_table(const std::vector<GroupStats>& groups) {
  // Rows are samplers, with the protocol and the batch size where the runs differ in them.
  // A cell that would still hold several settings (another lr, say) names how many instead
  // of showing one of them as if it were the only one.
  const auto differ = [&](auto field) {
    return std::any_of(groups.begin(), groups.end(), [&](const GroupStats& g) { return field(g) != field(groups.front()); });
  };
  const bool protocols_differ = differ([](const GroupStats& g) { return g.protocol; });
  const bool batch_sizes_differ = differ([](const GroupStats& g) { return g.batch_size; });
  const auto row_of = [&](const GroupStats& g) {
    std::string name = protocols_differ ? g.protocol + " + " + g.sampler : g.sampler;
    return batch_sizes_differ ? fmt::format("{}, B = {}", name, g.batch_size) : name;
  };
  std::vector<std::int64_t> ks;
  std::vector<std::string> row_names;
  for (const auto& g : groups) {
    if (std::find(ks.begin(), ks.end(), g.clients) == ks.end()) ks.push_back(g.clients);
    if (std::find(row_names.begin(), row_names.end(), row_of(g)) == row_names.end()) row_names.push_back(row_of(g));
  }
  std::sort(ks.begin(), ks.end());
  Table rows = {{protocols_differ ? "protocol + sampler" : "sampler"}};
  for (auto k : ks) rows[0].push_back(fmt::format("K = {}", k));
  for (const auto& name : row_names) {
    std::vector<std::string> row = {name};
    for (auto k : ks) {
      std::vector<const GroupStats*> in_cell;
      for (const auto& g : groups)
        if (row_of(g) == name && g.clients == k) in_cell.push_back(&g);
      if (in_cell.empty()) row.push_back("-");
      else if (in_cell.size() == 1) row.push_back(accuracy_cell(*in_cell.front()));
      else row.push_back(fmt::format("{} settings: see \"Every setting\"", in_cell.size()));
    }
    rows.push_back(row);
  }
  return rows;
}

Table group_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups, const TableOptions& o) {
  Table rows = {{"settings", "runs", "test accuracy % (mean ± std)", "simulated time s", "wall time s",
                 "mean batch deviation", "macro F1", "MB up", "MB down"}};
  // Clients that came and went: how long the clock waited for them, and how many were online.
  const bool availability = std::any_of(groups.begin(), groups.end(), [](const GroupStats& g) {
    return g.availability_wait_mean > 0 || (g.online_clients_mean > 0 && g.online_clients_mean < double(g.clients));
  });
  if (availability)
    for (const char* c : {"availability wait s", "mean online clients"}) rows[0].push_back(c);
  if (o.target)
    for (const char* c : {"reached target", "steps to target", "simulated s to target"}) rows[0].push_back(c);
  for (const auto& g : groups) {
    std::vector<std::string> row = {g.group,
                                    std::to_string(g.runs),
                                    accuracy_cell(g),
                                    number(g.simulated_mean),
                                    number(g.wall_mean),
                                    number(g.deviation_mean, "{:.4f}"),
                                    number(g.macro_f1_mean, "{:.4f}"),
                                    number(g.up_mb_mean),
                                    number(g.down_mb_mean)};
    if (availability) {
      row.push_back(number(g.availability_wait_mean));
      row.push_back(number(g.online_clients_mean));
    }
    if (o.target) {
      std::vector<double> steps, sim;
      for (const auto& r : runs)
        if (r.group == g.group)
          if (const auto reached = time_to_accuracy(r, *o.target / 100)) {
            steps.push_back(double(reached->step));
            sim.push_back(reached->simulated_s);
          }
      row.push_back(fmt::format("{}/{}", steps.size(), g.runs));
      row.push_back(steps.empty() ? "-" : fmt::format("{:.0f} ± {:.0f}", mean(steps), stddev(steps)));
      row.push_back(sim.empty() ? "-" : fmt::format("{:.1f} ± {:.1f}", mean(sim), stddev(sim)));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Table run_table(const std::vector<Run>& runs, const TableOptions& o) {
  Table rows = {{"run", "settings", "seed", "status", "steps", "test accuracy %", "simulated time s", "wall time s",
                 "mean batch deviation"}};
  if (o.target)
    for (const char* c : {"steps to target", "simulated s to target"}) rows[0].push_back(c);
  for (const auto& r : runs) {
    const auto& s = r.summary;
    std::vector<std::string> row = {r.dir.filename().string(),
                                    r.group,
                                    std::to_string(s.seed),
                                    s.status,
                                    std::to_string(s.train_steps),
                                    s.test_accuracy ? fmt::format("{:.2f}", 100 * *s.test_accuracy) : "-",
                                    number(s.simulated_time_s),
                                    number(s.wall_time_s),
                                    number(s.mean_batch_deviation, "{:.4f}")};
    if (o.target) {
      const auto reached = time_to_accuracy(r, *o.target / 100);
      row.push_back(reached ? std::to_string(reached->step) : "not reached");
      row.push_back(reached ? number(reached->simulated_s) : "not reached");
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Table class_table(const std::vector<GroupStats>& groups) {
  std::size_t classes = 0;
  for (const auto& g : groups) classes = std::max(classes, g.class_accuracy_mean.size());
  Table rows = {{"settings"}};
  for (std::size_t c = 0; c < classes; ++c) rows[0].push_back(fmt::format("class {}", c));
  rows[0].push_back("worst class");
  for (const auto& g : groups) {
    std::vector<std::string> row = {g.group};
    std::size_t worst = classes;
    for (std::size_t c = 0; c < classes; ++c) {
      const double v = c < g.class_accuracy_mean.size() ? g.class_accuracy_mean[c] : NAN;
      row.push_back(number(v));
      if (!std::isnan(v) && (worst == classes || v < g.class_accuracy_mean[worst])) worst = c;
    }
    row.push_back(worst == classes ? "-" : fmt::format("class {} ({:.1f})", worst, g.class_accuracy_mean[worst]));
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {
// Each group's runs' test accuracy after each epoch, in percent (NaN: no evaluation).
std::map<std::string, std::vector<std::vector<double>>> epoch_series(const std::vector<Run>& runs) {
  std::map<std::string, std::vector<std::vector<double>>> by_group;
  for (const auto& r : runs) {
    auto series = accuracy_by_epoch(r);
    for (auto& a : series) a *= 100;
    by_group[r.group].push_back(std::move(series));
  }
  return by_group;
}
std::size_t longest(const std::vector<std::vector<double>>& series) {
  std::size_t n = 0;
  for (const auto& s : series) n = std::max(n, s.size());
  return n;
}
std::size_t most_epochs(const std::map<std::string, std::vector<std::vector<double>>>& by_group) {
  std::size_t n = 0;
  for (const auto& [group, series] : by_group) n = std::max(n, longest(series));
  return n;
}
// The mean over the runs that were evaluated in each epoch (NaN where none was).
std::vector<double> mean_curve(const std::vector<std::vector<double>>& series) {
  std::vector<double> curve(longest(series), NAN);
  for (std::size_t e = 0; e < curve.size(); ++e) {
    std::vector<double> values;
    for (const auto& s : series)
      if (e < s.size() && !std::isnan(s[e])) values.push_back(s[e]);
    if (!values.empty()) curve[e] = mean(values);
  }
  return curve;
}
// The mean of v[begin, end) without its NaNs; NaN when nothing is left.
double window_mean(const std::vector<double>& v, std::size_t begin, std::size_t end) {
  std::vector<double> values;
  for (std::size_t i = begin; i < end && i < v.size(); ++i)
    if (!std::isnan(v[i])) values.push_back(v[i]);
  return values.empty() ? NAN : mean(values);
}
}  // namespace

Table epoch_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups) {
  const auto by_group = epoch_series(runs);
  const std::size_t epochs = most_epochs(by_group);
  if (epochs < 2) return {};
  Table rows = {{"settings"}};
  for (std::size_t e = 1; e <= epochs; ++e) rows[0].push_back(fmt::format("epoch {}", e));
  for (const auto& g : groups) {
    std::vector<std::string> row = {g.group};
    const auto it = by_group.find(g.group);
    const auto curve = it == by_group.end() ? std::vector<double>{} : mean_curve(it->second);
    for (std::size_t e = 0; e < epochs; ++e) row.push_back(e < curve.size() ? number(curve[e]) : "-");
    rows.push_back(std::move(row));
  }
  return rows;
}

Table plateau_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups) {
  constexpr std::size_t kWindow = 5;
  const auto by_group = epoch_series(runs);
  const std::size_t epochs = most_epochs(by_group);
  if (epochs < 2 * kWindow) return {};
  Table rows = {{"settings"}};
  for (std::size_t begin = 0; begin < epochs; begin += kWindow)
    rows[0].push_back(fmt::format("epochs {}-{}", begin + 1, std::min(begin + kWindow, epochs)));
  for (const char* c : {"last 5 epochs (mean ± std over seeds)", "change from the 5 before",
                        "within 1 point of the last 5 from epoch", "widest swing of a run, last 10 epochs"})
    rows[0].push_back(c);
  for (const auto& g : groups) {
    std::vector<std::string> row = {g.group};
    const auto it = by_group.find(g.group);
    const auto& series = it == by_group.end() ? std::vector<std::vector<double>>{} : it->second;
    const auto curve = mean_curve(series);
    const std::size_t n = curve.size();  // this group's epochs; the windows past them stay empty
    for (std::size_t begin = 0; begin < epochs; begin += kWindow)
      row.push_back(begin < n ? number(window_mean(curve, begin, begin + kWindow), "{:.2f}") : "-");
    if (n < 2 * kWindow) {
      row.resize(rows[0].size(), "-");
      rows.push_back(std::move(row));
      continue;
    }
    // Each run's own mean over the group's last five epochs: the plateau it reached.
    std::vector<double> plateaus;
    double swing = 0;
    for (const auto& s : series) {
      if (const double p = window_mean(s, n - kWindow, n); !std::isnan(p)) plateaus.push_back(p);
      double lo = INFINITY, hi = -INFINITY;
      for (std::size_t e = n - 2 * kWindow; e < n && e < s.size(); ++e)
        if (!std::isnan(s[e])) lo = std::min(lo, s[e]), hi = std::max(hi, s[e]);
      if (hi >= lo) swing = std::max(swing, hi - lo);
    }
    const double last = window_mean(curve, n - kWindow, n), before = window_mean(curve, n - 2 * kWindow, n - kWindow);
    row.push_back(plateaus.empty() ? "-" : fmt::format("{:.2f} ± {:.2f}", mean(plateaus), stddev(plateaus)));
    row.push_back(number(last - before, "{:+.2f}"));
    // The epoch from which the mean curve never again falls more than a point below its
    // last five epochs' mean: where it levelled off, or late when it still rises or swings.
    std::size_t from = n;
    while (from > 0 && !(curve[from - 1] < last - 1)) --from;
    row.push_back(from < n ? std::to_string(from + 1) : "not yet");
    row.push_back(number(swing));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string markdown_table(const Table& rows) {
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

std::string html_table(const Table& rows, const std::string& id) {
  std::string out = fmt::format("<table id=\"{}\">\n", id);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += "<tr>";
    for (const auto& c : rows[i]) out += fmt::format(fmt::runtime(i == 0 ? "<th>{}</th>" : "<td>{}</td>"), escape_xml(c));
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string csv_table(const Table& rows) {
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      std::string cell = row[c];
      if (cell.find_first_of(",\"\n") != std::string::npos) {  // RFC 4180 quoting
        std::string quoted = "\"";
        for (char ch : cell) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        cell = quoted + "\"";
      }
      out += (c ? "," : "") + cell;
    }
    out += "\n";
  }
  return out;
}

}  // namespace psl::report
