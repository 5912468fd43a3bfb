// The figures of a report, as data: each is drawn interactively in the HTML page
// (html_page.cpp) and written as a static SVG for papers (export.cpp).
#pragma once

#include <string>
#include <vector>

#include "report/aggregate.hpp"
#include "report/svg_plot.hpp"

namespace psl::report {

struct Figure {
  std::string id;     // file name of its SVG export, element id in the page
  std::string title, x_label, y_label;
  std::string note;   // what the band is, the smoothing window
  std::vector<Curve> curves;
  bool scatter = false;  // one point per run (the curve's points are the group's runs)
};

std::vector<Figure> figures(const std::vector<Run>& runs, Band band);

// The static drawing of a figure: the mean lines with their bands shaded.
std::string figure_svg(const Figure& figure);
// The label histogram of the first run's partition.
std::string label_histogram_svg(const Run& run);

}  // namespace psl::report
