// `psl report`: runs and sweeps compared in one self-contained HTML page (html_page.cpp)
// or Markdown, with the tables and curves also as CSV and each figure as an SVG file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/html_page.hpp"
#include "report/runs.hpp"
#include "report/tables.hpp"

namespace psl::report {

std::string markdown(const std::vector<Run>& runs, const TableOptions& options = {});
std::string html(const std::vector<Run>& runs, const PageOptions& options = {});

// `--csv DIR`: settings.csv, groups.csv, runs.csv, paper.csv, classes.csv, epochs.csv and
// plateau.csv (runs of several and of ten or more epochs), and curves.csv (one row per
// point: figure, setting, run (empty for the mean over seeds), x, y, low, high).
void write_csv(const std::vector<Run>& runs, const PageOptions& options, const std::filesystem::path& dir);
// `--figures DIR`: each figure as FIGURE.svg, and labels.svg.
void write_figures(const std::vector<Run>& runs, Band band, const std::filesystem::path& dir);

struct ReportOptions {
  std::vector<std::string> paths;
  std::string output;
  std::string format = "html";
  std::string band = "std";       // std or minmax
  std::optional<double> target;   // test accuracy in percent
  std::string csv_dir, figures_dir;
};
int command_report(const ReportOptions& options);

}  // namespace psl::report
