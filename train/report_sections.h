// The parts of report.html (train/report.h), each an HTML fragment built from one kind of
// input. Internal to the report; separate so each part can be read, and tested, on its own.
#pragma once
#include <string>
#include <vector>

#include "train/report_data.h"

namespace whet::train {

// The headline figures: epochs, best and final validation accuracy, evaluation accuracy,
// top-5 and loss, training time and throughput (whatever the data has).
std::string summary_html(const ReportData& d);

// The charts: loss and accuracy per epoch, training loss per step, learning rate.
std::string curves_html(const RunMetrics& m);

// The confusion matrix as a heat map (rows: true class; colour: share of the row); past
// 100 classes, a table of the most frequent confusions instead.
std::string confusion_html(const EvalResult& r);

// Precision, recall, F1 and support per class, with bars.
std::string per_class_html(const EvalResult& r);

// The configuration, one table row per key, grouped by section.
std::string config_html(const std::vector<ConfigEntry>& config);

// The page's style sheet (report_style.cpp).
const char* report_css();

// "12.34%" and friends, shared by the parts.
std::string percent(double fraction, int decimals = 2);
std::string fixed(double v, int decimals);

}  // namespace whet::train
