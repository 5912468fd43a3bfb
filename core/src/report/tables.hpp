// The tables of a report, as rows of cells (the first row is the header), for the HTML
// page, Markdown and CSV alike.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/aggregate.hpp"

namespace psl::report {

using Table = std::vector<std::vector<std::string>>;

struct TableOptions {
  std::optional<double> target;  // test accuracy in percent, for time-to-accuracy columns
};

Table fixed_settings_table(const SettingsDiff& diff);
Table varying_settings_table(const SettingsDiff& diff);
// Rows: sampler (and protocol, batch size where they differ); columns: client count;
// cells: accuracy mean ± std over seeds, or how many settings share the cell.
Table paper_table(const std::vector<GroupStats>& groups);
Table group_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups, const TableOptions& options);
Table run_table(const std::vector<Run>& runs, const TableOptions& options);
// Rows: settings; columns: classes; cells: test accuracy of the class, mean over seeds (%),
// and the worst class: non-IID training hurts some classes most.
Table class_table(const std::vector<GroupStats>& groups);
// Rows: settings; columns: epochs; cells: test accuracy after the epoch, mean over the
// group's runs (%): where accuracy stops rising. Empty when no run trained more than one epoch.
Table epoch_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups);
// Rows: settings; columns: five-epoch means of that curve, then each run's mean over the
// last five epochs (mean ± std over seeds), the change from the five epochs before, the
// epoch from which the mean curve stays within a point of its last five epochs, and the
// widest range of a run over the last ten: has accuracy stopped rising, and where.
// Empty when no run trained ten epochs.
Table plateau_table(const std::vector<Run>& runs, const std::vector<GroupStats>& groups);

std::string markdown_table(const Table& rows);
std::string html_table(const Table& rows, const std::string& id);
std::string csv_table(const Table& rows);

}  // namespace psl::report
