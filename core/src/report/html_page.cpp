#include "report/html_page.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "run_folder.hpp"

namespace psl::report {

namespace fs = std::filesystem;

namespace {

// dygraphs tells a figure's lines apart by their labels, so each must be unused: a run's
// folder may be named like its setting ("sampler.type=ugs", made by psl run) or like a
// run of another folder. A taken label gets " (run)", then " (run 2)", and so on.
std::string unused_label(std::set<std::string>& used, const std::string& label, const std::string& kind) {
  std::string candidate = label;
  for (int n = 1; !used.insert(candidate).second; ++n)
    candidate = n == 1 ? fmt::format("{} ({})", label, kind) : fmt::format("{} ({} {})", label, kind, n);
  return candidate;
}

// The figure's data as dygraphs reads it: one row per x value, a column per setting
// ([low, mean, high] for its band) and then one per run (its own line, hidden at first).
nlohmann::json chart_data(const Figure& f) {
  std::set<double> xs;
  for (const auto& c : f.curves) {
    xs.insert(c.x.begin(), c.x.end());
    for (const auto& s : c.seeds) xs.insert(s.x.begin(), s.x.end());
  }
  nlohmann::json labels = {f.x_label}, seed_of = nlohmann::json::array(), colors = nlohmann::json::array();
  std::set<std::string> used = {f.x_label};
  for (std::size_t g = 0; g < f.curves.size(); ++g) {
    labels.push_back(unused_label(used, f.curves[g].group, "setting"));
    colors.push_back(palette(g));
  }
  std::size_t seed_columns = 0;
  if (!f.scatter)
    for (std::size_t g = 0; g < f.curves.size(); ++g)
      for (const auto& s : f.curves[g].seeds) {
        labels.push_back(unused_label(used, s.run, "run"));
        seed_of.push_back(g);
        colors.push_back(palette(g));
        ++seed_columns;
      }
  const std::size_t columns = f.curves.size() + seed_columns;
  std::map<double, std::size_t> row_of;
  nlohmann::json rows = nlohmann::json::array();
  for (double x : xs) {
    row_of[x] = rows.size();
    nlohmann::json row = {x};
    for (std::size_t c = 0; c < columns; ++c) row.push_back(nullptr);
    rows.push_back(row);
  }
  auto put = [&](double x, std::size_t column, nlohmann::json value) { rows[row_of[x]][column + 1] = std::move(value); };
  std::size_t column = f.curves.size();
  for (std::size_t g = 0; g < f.curves.size(); ++g) {
    const auto& c = f.curves[g];
    for (std::size_t i = 0; i < c.x.size(); ++i)
      put(c.x[i], g, f.scatter ? nlohmann::json(c.mean[i]) : nlohmann::json::array({c.lo[i], c.mean[i], c.hi[i]}));
    if (f.scatter) continue;
    for (const auto& s : c.seeds) {
      for (std::size_t i = 0; i < s.x.size(); ++i) put(s.x[i], column, nlohmann::json::array({s.y[i], s.y[i], s.y[i]}));
      ++column;
    }
  }
  return {{"id", f.id},         {"title", f.title},   {"note", f.note},     {"xlabel", f.x_label},
          {"ylabel", f.y_label}, {"scatter", f.scatter}, {"labels", labels}, {"colors", colors},
          {"groups", f.curves.size()}, {"seedOf", seed_of}, {"data", rows}};
}

// JSON that goes inside a <script> element: no "</" may end it early ("<\/" means the same
// in a JSON string).
std::string script_safe_json(const std::string& json) { return std::regex_replace(json, std::regex("</"), "<\\/"); }

const char* kDraw = R"JS(
function pslDraw() {
  let drawn = 0;
  for (const f of PSL_FIGURES) {
    const groups = f.groups, columns = f.labels.length - 1;
    const shown = Array.from({length: groups}, () => true);
    let seeds = false;
    const visibility = () => Array.from({length: columns}, (_, c) =>
        c < groups ? shown[c] : seeds && shown[f.seedOf[c - groups]]);
    const series = {};
    for (let c = groups; c < columns; ++c) series[f.labels[c + 1]] = {strokeWidth: 0.7};
    const g = new Dygraph(document.getElementById('chart-' + f.id), f.data, {
      labels: f.labels, colors: f.colors, customBars: !f.scatter, xlabel: f.xlabel, ylabel: f.ylabel,
      drawPoints: f.scatter, strokeWidth: f.scatter ? 0 : 1.6, pointSize: 3, connectSeparatedPoints: true,
      visibility: visibility(), series: series, legend: 'always', labelsSeparateLines: true,
      labelsDiv: document.getElementById('legend-' + f.id), fillAlpha: 0.18, width: 720, height: 340});
    const box = document.getElementById('toggles-' + f.id);
    const toggle = (text, checked, change) => {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.checked = checked;
      input.addEventListener('change', () => { change(input.checked); g.updateOptions({visibility: visibility()}); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(' ' + text));
      box.appendChild(label);
    };
    for (let i = 0; i < groups; ++i) toggle(f.labels[i + 1], true, on => { shown[i] = on; });
    if (columns > groups) toggle('per-seed lines', false, on => { seeds = on; });
    ++drawn;
  }
  document.body.setAttribute('data-charts-drawn', String(drawn));
}
window.addEventListener('load', pslDraw);
)JS";

const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px;}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;}th{background:#f4f4f4;}"
    "td:first-child,th:first-child{text-align:left;}figure{margin:1.5em 0;}"
    "figcaption{font-weight:bold;margin-bottom:.3em;}figcaption span{font-weight:normal;color:#555;}"
    ".chart-row{display:flex;gap:1em;align-items:flex-start;}.legend{font-size:12px;min-width:300px;}"
    ".toggles label{margin-right:1em;font-size:12px;white-space:nowrap;}.scroll{overflow-x:auto;}";

// A table wider than the page (many epochs, long settings) scrolls on its own, not the page.
std::string section(const std::string& title, const std::string& body) {
  return "<h2>" + title + "</h2>\n<div class=\"scroll\">" + body + "</div>\n";
}

}  // namespace

std::string html_page(const std::vector<Run>& runs, const PageOptions& o) {
  const auto done = complete_runs(runs);
  const auto groups = group_stats(done);
  const auto diff = settings_diff(runs);
  const auto figs = figures(runs, o.band);
  const auto left_out = left_out_of_means(runs);
  const fs::path js = o.dygraphs_dir / "dygraph.min.js", css = o.dygraphs_dir / "dygraph.min.css";
  std::string library;
  if (!o.dygraphs_dir.empty() && fs::exists(js) && fs::exists(css))
    library = std::regex_replace(read_file(js), std::regex(R"(//# sourceMappingURL=.*)"), "");
  // A library that could end its own <script> element early is not inlined.
  const bool interactive = !library.empty() && library.find("</script") == std::string::npos;

  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>psl report</title>\n<style>";
  out += kStyle;
  if (interactive) out += std::regex_replace(read_file(css), std::regex(R"(/\*# sourceMappingURL=.*\*/)"), "");
  out += "</style>\n";
  if (interactive) {
    out += "<script>" + library + "</script>\n";
    nlohmann::json data = nlohmann::json::array();
    for (const auto& f : figs) data.push_back(chart_data(f));
    out += "<script>const PSL_FIGURES = " + script_safe_json(data.dump()) + ";\n" + kDraw + "</script>\n";
  }
  out += "</head><body>\n";
  out += fmt::format("<h1>psl report</h1>\n<p>{} runs in {} settings.</p>\n", runs.size(), groups.size());
  if (!left_out.empty()) out += "<p class=\"left-out\">" + escape_xml(left_out) + "</p>\n";
  out += section("Settings", html_table(varying_settings_table(diff), "varying-settings") +
                                 "<details><summary>The same in every run</summary>\n" +
                                 html_table(fixed_settings_table(diff), "fixed-settings") + "</details>\n");
  out += section("Test accuracy by sampler and client count (mean ± std over seeds, %)",
                 html_table(paper_table(groups), "paper-table"));
  out += section("Every setting", html_table(group_table(done, groups, o.tables), "runs-table"));
  out += section("Test accuracy per class (mean over seeds, %)", html_table(class_table(groups), "class-table"));
  if (const auto epochs = epoch_table(done, groups); !epochs.empty())
    out += section("Test accuracy after each epoch (mean over seeds, %)", html_table(epochs, "epoch-table"));
  if (const auto plateau = plateau_table(done, groups); !plateau.empty())
    out += section("Where test accuracy levels off (five-epoch means, %)", html_table(plateau, "plateau-table"));
  out += section("Every run", html_table(run_table(runs, o.tables), "per-run-table"));
  out += "<h2>Figures</h2>\n";
  if (interactive)
    out += "<p>Hover for values; drag to zoom, double-click to zoom out; the checkboxes show and hide settings "
           "and each run's own line.</p>\n";
  else
    out += fmt::format("<p>Static figures: {} was not found (Debian package libjs-dygraphs) for interactive ones.</p>\n",
                       js.string());
  for (const auto& f : figs) {
    out += fmt::format("<figure id=\"figure-{}\"><figcaption>{} <span>({})</span></figcaption>\n", f.id,
                       escape_xml(f.title), escape_xml(f.note));
    if (interactive)
      out += fmt::format("<div class=\"chart-row\"><div id=\"chart-{0}\"></div><div class=\"legend\" id=\"legend-{0}\">"
                         "</div></div><div class=\"toggles\" id=\"toggles-{0}\"></div>\n",
                         f.id);
    else
      out += figure_svg(f);
    out += "</figure>\n";
  }
  out += "<figure id=\"figure-labels\">" + label_histogram_svg(runs.front()) + "</figure>\n";
  return out + "</body></html>\n";
}

}  // namespace psl::report
