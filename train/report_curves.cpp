// The report's charts, from metrics.jsonl's step and epoch lines.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "train/report_sections.h"
#include "train/svg_chart.h"

namespace whet::train {

namespace {
constexpr const char* kTrain = "#2563eb";
constexpr const char* kVal = "#ea580c";
constexpr const char* kTop5 = "#16a34a";
constexpr const char* kLr = "#7c3aed";
// A long run logs many thousands of steps; a few hundred points per chart width draw the
// same picture in a fraction of the bytes.
constexpr size_t kMaxPoints = 1200;

// Averages consecutive points into at most kMaxPoints buckets (non-finite values skipped).
void decimate(std::vector<double>& x, std::vector<double>& y) {
  const size_t n = x.size();
  if (n <= kMaxPoints) return;
  std::vector<double> bx, by;
  for (size_t b = 0; b < kMaxPoints; ++b) {
    const size_t lo = b * n / kMaxPoints, hi = (b + 1) * n / kMaxPoints;
    double sx = 0, sy = 0;
    size_t k = 0;
    for (size_t i = lo; i < hi; ++i)
      if (std::isfinite(y[i])) sx += x[i], sy += y[i], ++k;
    if (k > 0) bx.push_back(sx / double(k)), by.push_back(sy / double(k));
  }
  x.swap(bx), y.swap(by);
}

// An exponential moving average, bias-corrected at the start as TensorBoard's smoothing,
// with a window of about 1/30 of the run, so the trend reads at any run length.
std::vector<double> smooth(const std::vector<double>& y) {
  const double window = std::max(1.0, double(y.size()) / 30.0);
  const double beta = 1.0 - 1.0 / window;
  std::vector<double> out(y.size(), kNoValue);
  double avg = 0, weight = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) continue;
    avg = beta * avg + (1 - beta) * y[i];
    weight = beta * weight + (1 - beta);
    out[i] = avg / weight;
  }
  return out;
}

bool any_finite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

ChartSeries series(const std::string& name, const char* colour, std::vector<double> x,
                   std::vector<double> y, bool markers) {
  ChartSeries s;
  s.name = name, s.color = colour, s.x = std::move(x), s.y = std::move(y), s.markers = markers;
  return s;
}

void figure(std::ostringstream& os, const std::vector<ChartSeries>& s, const ChartOptions& o) {
  os << "<figure>" << line_chart_svg(s, o) << "</figure>\n";
}
}  // namespace

std::string curves_html(const RunMetrics& m) {
  std::ostringstream os;
  os << "<div class=\"charts\">\n";
  // Per-epoch curves: markers on every epoch while they stay apart.
  const bool dots = m.epochs.size() <= 60;
  std::vector<double> ex, train_loss, val_loss, train_acc, val_acc, val_top5, epoch_lr;
  for (const auto& e : m.epochs) {
    ex.push_back(double(e.epoch));
    train_loss.push_back(e.train_loss), val_loss.push_back(e.val_loss);
    train_acc.push_back(e.train_acc), val_acc.push_back(e.val_acc);
    val_top5.push_back(e.val_top5), epoch_lr.push_back(e.lr);
  }
  if (!m.epochs.empty()) {
    ChartOptions o;
    o.title = "Loss per epoch";
    o.x_label = "epoch", o.y_label = "cross-entropy", o.integer_x = true;
    std::vector<ChartSeries> s{series("train", kTrain, ex, train_loss, dots)};
    if (any_finite(val_loss)) s.push_back(series("validation", kVal, ex, val_loss, dots));
    figure(os, s, o);

    o.title = "Accuracy per epoch";
    o.y_label = "accuracy", o.y_from_zero = false, o.y_cap = 1.0;
    s = {series("train", kTrain, ex, train_acc, dots)};
    if (any_finite(val_acc)) s.push_back(series("validation", kVal, ex, val_acc, dots));
    if (any_finite(val_top5)) {
      s.push_back(series("validation top-5", kTop5, ex, val_top5, dots));
      s.back().dashed = true;
    }
    figure(os, s, o);
  }

  std::vector<double> sx, loss, step_lr;
  for (const auto& st : m.steps) {
    sx.push_back(double(st.global_step));
    loss.push_back(st.loss);
    step_lr.push_back(st.lr);
  }
  if (any_finite(loss)) {
    ChartOptions o;
    o.title = "Training loss per step";
    o.x_label = "step", o.y_label = "cross-entropy";
    std::vector<double> smoothed = smooth(loss), x1 = sx, x2 = sx;
    decimate(x1, loss);
    decimate(x2, smoothed);
    ChartSeries raw = series("batch loss", kTrain, x1, loss, false);
    raw.opacity = 0.3, raw.width = 1.2;
    figure(os, {raw, series("smoothed", kTrain, x2, smoothed, false)}, o);
  }

  // The schedule is logged per step when steps carry it (warm-up shows), else per epoch.
  ChartOptions lr_opts;
  lr_opts.title = "Learning rate";
  lr_opts.y_label = "learning rate", lr_opts.y_from_zero = true;
  if (any_finite(step_lr)) {
    lr_opts.x_label = "step";
    decimate(sx, step_lr);
    figure(os, {series("lr", kLr, sx, step_lr, false)}, lr_opts);
  } else if (any_finite(epoch_lr)) {
    lr_opts.x_label = "epoch", lr_opts.integer_x = true;
    figure(os, {series("lr", kLr, ex, epoch_lr, dots)}, lr_opts);
  }
  os << "</div>\n";
  return os.str();
}

}  // namespace whet::train
