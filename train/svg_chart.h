// Line charts as inline SVG, for the HTML training report (train/report.h): axes with "nice"
// ticks (1, 2, 5 x 10^k), grid lines, a legend, one polyline per series and optional point
// markers whose <title> is a hover tooltip. Inline SVG needs no script, no library and no
// network, renders the same in every browser and prints; the report stays one static file.
#pragma once
#include <string>
#include <vector>

namespace whet::train {

struct ChartSeries {
  std::string name;
  std::string color;         // any CSS colour
  std::vector<double> x, y;  // same length; a non-finite y breaks the line (a gap)
  bool markers = false;      // a dot per point, with a tooltip
  bool dashed = false;
  double width = 2.0;    // stroke width
  double opacity = 1.0;  // e.g. a faint raw series under its smoothed version
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 560, height = 320;
  bool y_from_zero = false;  // include 0 in the y range (accuracy, learning rate)
  double y_cap = 0;          // > 0: the y range stops at this (accuracy: 1) when data fits
  bool integer_x = false;    // x ticks on whole numbers only (epochs)
};

// The <svg> element (no XML prolog or namespace: it is meant for inline use in HTML5).
// Series without a finite point are listed in the legend only; with none at all the chart
// says "no data".
std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& o);

// Tick positions covering [lo, hi] with about `target` steps of 1, 2 or 5 x 10^k (exposed
// for tests). integer: steps of at least 1.
std::vector<double> nice_ticks(double lo, double hi, int target = 5, bool integer = false);

// A tick label: the fewest decimals that tell ticks `step` apart; scientific notation for
// very small or large values ("1e-04", "2.5e+06").
std::string tick_label(double v, double step);

// Escapes &, <, >, " and ' for HTML text and attribute values (SVG text too).
std::string html_escape(const std::string& s);

}  // namespace whet::train
