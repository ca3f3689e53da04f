// The training report: one self-contained report.html in a run's output directory, made from
// config.toml, metrics.jsonl and eval.json (train/report_data.h), any of which may be missing.
// It shows summary figures, loss and accuracy per epoch (train and validation), the
// per-step training loss (raw and smoothed), the learning rate, the confusion matrix as a
// heat map, per-class precision / recall / F1 and the configuration.
//
// Self-contained means no network at all: CSS inline, charts as inline SVG drawn here
// (train/svg_chart.h), no script, no fonts or images fetched. It opens from a file, an
// artifact store or an air-gapped cluster alike, and reads the same printed. The output is
// a pure function of the inputs (no timestamp), so regenerating an unchanged run gives the
// same bytes.
#pragma once
#include <string>

#include "train/report_data.h"

namespace whet::train {

// The HTML page for `d`.
std::string render_report(const ReportData& d);

// Reads output_dir's files and writes output_dir/report.html atomically (a reader never sees
// half a page). Throws whet::Error when output_dir is not a directory or cannot be written.
void write_report(const std::string& output_dir);

// The path write_report writes.
std::string report_path(const std::string& output_dir);

}  // namespace whet::train
