#include "report/svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace psl::report {

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string palette(std::size_t i) {
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors[i % 10];
}

namespace {
constexpr int kLeft = 64, kRight = 240, kTop = 32, kBottom = 48;  // the legend sits in the right margin

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);  // no "-0" label
  return out;
}

std::string frame(int width, int height, const std::string& title, const std::string& x_label,
                  const std::string& y_label) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text class=\"title\" x=\"{2}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{3}</text>\n"
      "<text class=\"x-label\" x=\"{2}\" y=\"{4}\" text-anchor=\"middle\">{5}</text>\n"
      "<text class=\"y-label\" transform=\"translate(14,{6}) rotate(-90)\" text-anchor=\"middle\">{7}</text>\n",
      width, height, width / 2, escape_xml(title), height - 8, escape_xml(x_label), height / 2, escape_xml(y_label));
}
}  // namespace

std::string Chart::svg() const {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
      if (i < s.lo.size() && i < s.hi.size()) y0 = std::min(y0, s.lo[i]), y1 = std::max(y1, s.hi[i]);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  const double pw = width - kLeft - kRight, ph = height - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };

  std::string out = frame(width, height, title, x_label, y_label);
  out += fmt::format("<g class=\"axes\" stroke=\"#333\"><line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>"
                     "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\"/></g>\n",
                     kLeft, kTop + ph, kLeft + pw, kTop);
  for (double t : ticks(x0, x1))
    out += fmt::format("<text class=\"x-tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.4g}</text>\n", px(t),
                       kTop + ph + 14, t);
  for (double t : ticks(y0, y1))
    out += fmt::format("<text class=\"y-tick\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>"
                       "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n",
                       kLeft - 4, py(t) + 4, t, kLeft, py(t), kLeft + pw, py(t));
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    std::string points;
    for (std::size_t j = 0; j < s.x.size() && j < s.y.size(); ++j)
      if (std::isfinite(s.x[j]) && std::isfinite(s.y[j])) points += fmt::format("{:.1f},{:.1f} ", px(s.x[j]), py(s.y[j]));
    out += fmt::format("<g class=\"series\" data-name=\"{}\">", escape_xml(s.name));
    if (!s.lo.empty() && s.lo.size() == s.x.size() && s.hi.size() == s.x.size()) {
      std::string band;  // along the upper edge, back along the lower one
      for (std::size_t j = 0; j < s.x.size(); ++j) band += fmt::format("{:.1f},{:.1f} ", px(s.x[j]), py(s.hi[j]));
      for (std::size_t j = s.x.size(); j-- > 0;) band += fmt::format("{:.1f},{:.1f} ", px(s.x[j]), py(s.lo[j]));
      out += fmt::format("<polygon class=\"band\" fill=\"{}\" fill-opacity=\"0.18\" stroke=\"none\" points=\"{}\"/>",
                         palette(i), band);
    }
    if (lines) {
      out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>", palette(i), points);
    } else {
      for (std::size_t j = 0; j < s.x.size() && j < s.y.size(); ++j)
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>", px(s.x[j]), py(s.y[j]), palette(i));
    }
    out += "</g>\n";
    out += fmt::format("<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\">{}</text></g>\n",
                       kLeft + pw + 12, kTop + 4 + 14 * int(i), palette(i), kLeft + pw + 26, kTop + 13 + 14 * int(i),
                       escape_xml(s.name));
  }
  return out + "</svg>\n";
}

std::string StackedBars::svg() const {
  double top = 1;
  for (const auto& b : bars) {
    double sum = 0;
    for (double v : b) sum += v;
    top = std::max(top, sum);
  }
  const double pw = width - kLeft - kRight, ph = height - kTop - kBottom;
  const double bw = bars.empty() ? 0 : pw / double(bars.size());
  std::string out = frame(width, height, title, x_label, y_label);
  out += fmt::format("<g class=\"axes\" stroke=\"#333\"><line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/></g>\n", kLeft,
                     kTop + ph, kLeft + pw);
  for (double t : ticks(0, top))
    out += fmt::format("<text class=\"y-tick\" x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>\n", kLeft - 4,
                       kTop + ph - t / top * ph + 4, t);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    double base = 0;
    out += fmt::format("<g class=\"bar\" data-index=\"{}\">", i);
    for (std::size_t c = 0; c < bars[i].size(); ++c) {
      const double h = bars[i][c] / top * ph;
      out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>",
                         kLeft + bw * double(i) + bw * 0.1, kTop + ph - base - h, bw * 0.8, h, palette(c));
      base += h;
    }
    out += "</g>\n";
  }
  for (std::size_t c = 0; c < categories.size(); ++c)
    out += fmt::format("<g class=\"legend\"><rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
                       "<text x=\"{}\" y=\"{}\">{}</text></g>\n",
                       kLeft + pw + 12, kTop + 4 + 13 * int(c), palette(c), kLeft + pw + 26, kTop + 13 + 13 * int(c),
                       escape_xml(categories[c]));
  return out + "</svg>\n";
}

}  // namespace psl::report
