#include "report/report.hpp"

#include <fmt/format.h>

#include "report/figures.hpp"
#include "run_folder.hpp"

namespace psl::report {

namespace fs = std::filesystem;

std::string markdown(const std::vector<Run>& runs, const TableOptions& options) {
  const auto done = complete_runs(runs);
  const auto groups = group_stats(done);
  const auto diff = settings_diff(runs);
  const auto left_out = left_out_of_means(runs);
  std::string out = left_out.empty() ? "" : left_out + "\n\n";
  out += "## Settings that vary\n\n" + markdown_table(varying_settings_table(diff));
  out += "\n## Test accuracy by sampler and client count (mean ± std over seeds, %)\n\n";
  out += markdown_table(paper_table(groups));
  out += "\n## Every setting\n\n" + markdown_table(group_table(done, groups, options));
  out += "\n## Test accuracy per class (mean over seeds, %)\n\n" + markdown_table(class_table(groups));
  if (const auto epochs = epoch_table(done, groups); !epochs.empty())
    out += "\n## Test accuracy after each epoch (mean over seeds, %)\n\n" + markdown_table(epochs);
  if (const auto plateau = plateau_table(done, groups); !plateau.empty())
    out += "\n## Where test accuracy levels off (five-epoch means, %)\n\n" + markdown_table(plateau);
  return out;
}

std::string html(const std::vector<Run>& runs, const PageOptions& options) { return html_page(runs, options); }

void write_csv(const std::vector<Run>& runs, const PageOptions& o, const fs::path& dir) {
  fs::create_directories(dir);
  const auto done = complete_runs(runs);
  const auto groups = group_stats(done);
  const auto diff = settings_diff(runs);
  Table settings = {{"setting", "varies", "values"}};
  for (const auto& [k, v] : diff.fixed) settings.push_back({k, "no", v});
  for (const auto& [k, values] : diff.varying) settings.push_back({k, "yes", fmt::format("{}", fmt::join(values, "; "))});
  write_file_atomic(dir / "settings.csv", csv_table(settings));
  write_file_atomic(dir / "groups.csv", csv_table(group_table(done, groups, o.tables)));
  write_file_atomic(dir / "runs.csv", csv_table(run_table(runs, o.tables)));
  write_file_atomic(dir / "paper.csv", csv_table(paper_table(groups)));
  write_file_atomic(dir / "classes.csv", csv_table(class_table(groups)));
  if (const auto epochs = epoch_table(done, groups); !epochs.empty()) write_file_atomic(dir / "epochs.csv", csv_table(epochs));
  if (const auto plateau = plateau_table(done, groups); !plateau.empty())
    write_file_atomic(dir / "plateau.csv", csv_table(plateau));
  Table points = {{"figure", "setting", "run", "x", "y", "low", "high"}};
  auto num = [](double v) { return fmt::format("{}", v); };
  for (const auto& f : figures(runs, o.band))
    for (const auto& c : f.curves) {
      for (std::size_t i = 0; i < c.x.size(); ++i)
        points.push_back({f.id, c.group, "", num(c.x[i]), num(c.mean[i]), num(c.lo[i]), num(c.hi[i])});
      for (const auto& s : c.seeds)
        for (std::size_t i = 0; i < s.x.size(); ++i)
          points.push_back({f.id, c.group, s.run, num(s.x[i]), num(s.y[i]), "", ""});
    }
  write_file_atomic(dir / "curves.csv", csv_table(points));
}

void write_figures(const std::vector<Run>& runs, Band band, const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& f : figures(runs, band)) write_file_atomic(dir / (f.id + ".svg"), figure_svg(f));
  write_file_atomic(dir / "labels.svg", label_histogram_svg(runs.front()));
}

int command_report(const ReportOptions& o) {
  try {
    std::vector<fs::path> paths(o.paths.begin(), o.paths.end());
    const auto runs = find_runs(paths);
    if (const auto left_out = left_out_of_means(runs); !left_out.empty()) fmt::print(stderr, "psl report: {}\n", left_out);
    PageOptions page;
    page.band = o.band == "minmax" ? Band::MinMax : Band::Std;
    page.tables.target = o.target;
    const std::string text = o.format == "md" ? markdown(runs, page.tables) : html(runs, page);
    if (o.output.empty() || o.output == "-") {
      fmt::print("{}", text);
    } else {
      write_file_atomic(o.output, text);
      fmt::print(stderr, "report of {} runs written to {}\n", runs.size(), o.output);
    }
    if (!o.csv_dir.empty()) {
      write_csv(runs, page, o.csv_dir);
      fmt::print(stderr, "tables and curves as CSV in {}\n", o.csv_dir);
    }
    if (!o.figures_dir.empty()) {
      write_figures(runs, page.band, o.figures_dir);
      fmt::print(stderr, "figures as SVG in {}\n", o.figures_dir);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "psl report: {}\n", e.what());
    return 1;
  }
}

}  // namespace psl::report
