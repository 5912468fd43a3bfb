#include "report/figures.hpp"

#include "run_folder.hpp"

#include <fmt/format.h>

#include <map>

namespace psl::report {

namespace {
std::string band_note(Band band) {
  return band == Band::Std ? "shaded: mean ± one standard deviation over seeds" : "shaded: min to max over seeds";
}

Figure line_figure(const std::vector<Run>& runs, std::string id, std::string title, std::string x_label,
                   std::string y_label, CurveSpec spec) {
  Figure f{std::move(id), std::move(title), std::move(x_label), std::move(y_label), band_note(spec.band),
           curves(runs, spec), false};
  if (spec.metric != Metric::TestAccuracy && spec.smooth > 1)
    f.note += fmt::format("; moving mean over {} steps, one point per window", spec.smooth);
  return f;
}
}  // namespace

std::vector<Figure> figures(const std::vector<Run>& runs, Band band) {
  const std::size_t w = smoothing_window(runs);
  std::vector<Figure> out;
  out.push_back(line_figure(runs, "accuracy-steps", "Test accuracy over steps", "step", "test accuracy (%)",
                            {Metric::TestAccuracy, XAxis::Step, 1, band}));
  out.push_back(line_figure(runs, "accuracy-samples", "Test accuracy over samples seen", "training samples seen",
                            "test accuracy (%)", {Metric::TestAccuracy, XAxis::Samples, 1, band}));
  out.push_back(line_figure(runs, "accuracy-time", "Test accuracy over simulated time", "simulated time (s)",
                            "test accuracy (%)", {Metric::TestAccuracy, XAxis::SimulatedTime, 1, band}));
  out.push_back(line_figure(runs, "loss-steps", "Training loss over steps", "step", "training loss (cross-entropy)",
                            {Metric::TrainLoss, XAxis::Step, w, band}));
  out.push_back(line_figure(runs, "deviation-steps", "Batch deviation over steps", "step", "batch deviation (L1)",
                            {Metric::BatchDeviation, XAxis::Step, w, band}));
  // The LDS trade-off: one point per run.
  Figure tradeoff{"deviation-time", "Batch deviation against simulated time", "mean batch deviation",
                  "simulated time (s)", "one point per run", {}, true};
  std::map<std::string, std::size_t> index;
  for (const auto& r : runs) {
    if (!index.count(r.group)) {
      index[r.group] = tradeoff.curves.size();
      tradeoff.curves.push_back(Curve{r.group, {}, {}, {}, {}, {}});
    }
    auto& c = tradeoff.curves[index[r.group]];
    c.x.push_back(r.summary.mean_batch_deviation);
    c.mean.push_back(r.summary.simulated_time_s);
    c.lo.push_back(r.summary.simulated_time_s);
    c.hi.push_back(r.summary.simulated_time_s);
  }
  out.push_back(std::move(tradeoff));
  return out;
}

std::string figure_svg(const Figure& f) {
  Chart chart{f.title + " (" + f.note + ")", f.x_label, f.y_label, {}};
  chart.lines = !f.scatter;
  for (const auto& c : f.curves) chart.series.push_back({c.group, c.x, c.mean, f.scatter ? std::vector<double>{} : c.lo,
                                                          f.scatter ? std::vector<double>{} : c.hi});
  return chart.svg();
}

std::string label_histogram_svg(const Run& run) {
  StackedBars bars{"Label histogram per client (" + run.dir.filename().string() + ")", "client", "samples", {}, {}};
  for (const auto& h : read_partition_csv(run.dir / "partition.csv")) {
    if (bars.bars.size() == 128) break;
    if (bars.categories.empty())
      for (std::size_t c = 0; c < h.size(); ++c) bars.categories.push_back(fmt::format("class_{}", c));
    bars.bars.emplace_back(h.begin(), h.end());
  }
  return bars.svg();
}

}  // namespace psl::report
