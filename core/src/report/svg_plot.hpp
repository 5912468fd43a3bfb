// A small SVG chart writer for reports: line charts, scatter plots and stacked bars,
// self-contained (no scripts, no fonts to fetch). Debian packages no C++ plotting library
// that writes SVG without a GUI toolkit, hence this one.
#pragma once

#include <string>
#include <vector>

namespace psl::report {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // optional: a band drawn shaded around the line
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool lines = true;  // false: markers only (scatter)
  int width = 880, height = 360;
  std::string svg() const;
};

// One stacked bar per item (e.g. a client), one segment per category (e.g. a class).
struct StackedBars {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<std::vector<double>> bars;  // bars[i][category]
  int width = 880, height = 300;
  std::string svg() const;
};

std::string escape_xml(const std::string& text);
// A distinct color for series i.
std::string palette(std::size_t i);

}  // namespace psl::report
