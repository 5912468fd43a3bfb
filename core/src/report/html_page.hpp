// The report as one self-contained HTML page: tables, and interactive charts drawn by
// dygraphs (Debian's libjs-dygraphs, inlined, so the page needs no network): hover for
// values, drag to zoom, double-click to reset, a checkbox per setting and for the
// per-seed lines. Without the library the page shows the static SVG figures instead.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/figures.hpp"
#include "report/tables.hpp"

namespace psl::report {

// Where Debian's libjs-dygraphs puts the library.
inline const std::filesystem::path kDygraphsDir = "/usr/share/javascript/dygraphs";

struct PageOptions {
  TableOptions tables;
  Band band = Band::Std;
  std::filesystem::path dygraphs_dir = kDygraphsDir;  // empty or missing: static SVG figures
};

std::string html_page(const std::vector<Run>& runs, const PageOptions& options);

}  // namespace psl::report
