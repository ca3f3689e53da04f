#include "train/report_sections.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "train/svg_chart.h"

namespace whet::train {

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "–";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string percent(double fraction, int decimals) {
  return std::isfinite(fraction) ? fixed(100 * fraction, decimals) + "%" : "–";
}

namespace {
std::string duration(double seconds) {
  char buf[48];
  const long s = std::lround(seconds);
  if (seconds < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ldm %02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldh %02ldm", s / 3600, (s % 3600) / 60);
  return buf;
}

void card(std::ostringstream& os, const std::string& value, const std::string& label,
          const std::string& detail = "") {
  os << "<div class=\"card\"><div class=\"value\">" << html_escape(value)
     << "</div><div class=\"label\">" << html_escape(label) << "</div>";
  if (!detail.empty()) os << "<div class=\"detail\">" << html_escape(detail) << "</div>";
  os << "</div>\n";
}

// A share in [0, 1] as the alpha of the heat map colour. The power lifts small shares (a
// handful of confusions out of hundreds) into sight without saturating the diagonal.
double heat(double share) { return share <= 0 ? 0 : std::pow(std::min(1.0, share), 0.6); }

// Red through amber to green for a score in [0, 1].
std::string score_colour(double v) {
  const double hue = 120 * std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0);
  return "hsl(" + fixed(hue, 0) + ", 62%, 42%)";
}
}  // namespace

std::string summary_html(const ReportData& d) {
  std::ostringstream os;
  os << "<div class=\"cards\">\n";
  if (d.metrics && !d.metrics->epochs.empty()) {
    const auto& ep = d.metrics->epochs;
    card(os, std::to_string(ep.size()), "epochs", "last: epoch " + std::to_string(ep.back().epoch));
    const EpochRecord* best = nullptr;
    double seconds = 0;
    for (const auto& e : ep) {
      if (std::isfinite(e.val_acc) && (!best || e.val_acc > best->val_acc)) best = &e;
      if (std::isfinite(e.seconds)) seconds += e.seconds;
    }
    if (best) {
      card(os, percent(best->val_acc), "best val accuracy", "epoch " + std::to_string(best->epoch));
      card(os, percent(ep.back().val_acc), "final val accuracy",
           std::isfinite(ep.back().val_top5) ? "top-5 " + percent(ep.back().val_top5) : "");
    }
    if (std::isfinite(ep.back().train_loss))
      card(os, fixed(ep.back().train_loss, 4), "final train loss",
           std::isfinite(ep.back().val_loss) ? "val " + fixed(ep.back().val_loss, 4) : "");
    if (seconds > 0) card(os, duration(seconds), "training time");
  }
  if (d.metrics && !d.metrics->steps.empty()) {
    std::vector<double> ips;
    for (const auto& s : d.metrics->steps)
      if (std::isfinite(s.images_per_s) && s.images_per_s > 0) ips.push_back(s.images_per_s);
    if (!ips.empty()) {
      std::nth_element(ips.begin(), ips.begin() + ptrdiff_t(ips.size() / 2), ips.end());
      card(os, fixed(ips[ips.size() / 2], 0) + " img/s", "throughput", "median over steps");
    }
  }
  if (d.eval) {
    card(os, percent(d.eval->accuracy), "eval accuracy",
         std::to_string(d.eval->num_samples) + " images");
    // top5 is top-k with k = min(5, classes) (train/evaluate.h): say which k it was.
    const size_t k = std::min<size_t>(5, d.eval->classes.size());
    card(os, percent(d.eval->top5), "eval top-" + std::to_string(k),
         k < 5 ? "top-5 of " + std::to_string(k) + " classes" : "");
    card(os, fixed(d.eval->loss, 4), "eval loss");
  }
  os << "</div>\n";
  return os.str();
}

namespace {
// The largest off-diagonal cells, for class counts whose full matrix would not fit a page.
std::string top_confusions_html(const EvalResult& r, size_t limit) {
  struct Cell {
    int64_t count;
    size_t t, p;
  };
  std::vector<Cell> cells;
  const size_t C = r.classes.size();
  for (size_t t = 0; t < C; ++t)
    for (size_t p = 0; p < C; ++p)
      if (t != p && r.confusion[t][p] > 0) cells.push_back({r.confusion[t][p], t, p});
  std::stable_sort(cells.begin(), cells.end(),
                   [](const Cell& a, const Cell& b) { return a.count > b.count; });
  if (cells.size() > limit) cells.resize(limit);
  std::ostringstream os;
  os << "<p class=\"legend\">" << C << " classes: the " << C << " x " << C
     << " matrix is too large to show; the most frequent confusions instead (eval.json holds "
        "the whole matrix).</p>\n<table class=\"data\">\n<thead><tr><th>true class</th>"
        "<th>predicted as</th><th>count</th><th>share of the true class</th></tr></thead>\n"
        "<tbody>\n";
  for (const Cell& c : cells) {
    const int64_t support = r.per_class[c.t].support;
    os << "<tr><td>" << html_escape(r.classes[c.t]) << "</td><td>" << html_escape(r.classes[c.p])
       << "</td><td class=\"num\">" << c.count << "</td><td class=\"num\">"
       << percent(support > 0 ? double(c.count) / double(support) : 0, 1) << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
  return os.str();
}
}  // namespace

std::string confusion_html(const EvalResult& r) {
  // Past a few dozen classes the counts no longer fit in a cell: colours only, counts in
  // the tooltips. Past a hundred even that is megabytes of cells (ImageNet's would be a
  // million): the largest confusions are what can be read there.
  constexpr size_t kMaxLabelledClasses = 30, kMaxMatrixClasses = 100, kTopConfusions = 30;
  const size_t C = r.classes.size();
  if (C > kMaxMatrixClasses) return top_confusions_html(r, kTopConfusions);
  const bool compact = C > kMaxLabelledClasses;
  std::ostringstream os;
  os << "<div class=\"cm-wrap\"><table class=\"cm" << (compact ? " compact" : "")
     << "\">\n<thead><tr><th class=\"corner\">true \\ predicted</th>";
  for (size_t c = 0; c < C; ++c)
    os << "<th class=\"col\"><span>" << html_escape(r.classes[c]) << "</span></th>";
  os << "<th class=\"total\">n</th></tr></thead>\n<tbody>\n";
  for (size_t t = 0; t < C; ++t) {
    int64_t row_total = 0;
    for (int64_t v : r.confusion[t]) row_total += v;
    os << "<tr><th class=\"row\">" << html_escape(r.classes[t]) << "</th>";
    for (size_t p = 0; p < C; ++p) {
      const int64_t v = r.confusion[t][p];
      const double share = row_total > 0 ? double(v) / double(row_total) : 0;
      const double a = heat(share);
      const char* rgb = t == p ? "37, 99, 235" : "220, 38, 38";
      os << "<td style=\"background: rgba(" << rgb << ", " << fixed(a, 3) << ")"
         << (a > 0.55 ? "; color: #fff" : "") << "\" title=\"true " << html_escape(r.classes[t])
         << ", predicted " << html_escape(r.classes[p]) << ": " << v << " (" << percent(share, 1)
         << " of the row)\">";
      if (!compact && v != 0) os << v;
      os << "</td>";
    }
    os << "<td class=\"total\">" << row_total << "</td></tr>\n";
  }
  os << "</tbody></table></div>\n"
     << "<p class=\"legend\"><span class=\"swatch\" style=\"background: rgb(37, 99, 235)\">"
        "</span> correct <span class=\"swatch\" style=\"background: rgb(220, 38, 38)\"></span>"
        " confused; shade = share of the true class's row"
     << (compact ? " (counts in the tooltips)" : "") << ".</p>\n";
  return os.str();
}

std::string per_class_html(const EvalResult& r) {
  std::ostringstream os;
  auto bar = [&](double v) {
    os << "<td class=\"num\"><div class=\"bar\"><div style=\"width: " << fixed(100 * v, 1)
       << "%; background: " << score_colour(v) << "\"></div></div>" << fixed(v, 4) << "</td>";
  };
  os << "<table class=\"data per-class\">\n<thead><tr><th>#</th><th>class</th>"
        "<th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>\n<tbody>\n";
  for (size_t c = 0; c < r.per_class.size(); ++c) {
    const PerClass& p = r.per_class[c];
    const double f1 =
        p.precision + p.recall > 0 ? 2 * p.precision * p.recall / (p.precision + p.recall) : 0.0;
    os << "<tr><td class=\"num\">" << c << "</td><td>" << html_escape(p.name) << "</td>";
    bar(p.precision);
    bar(p.recall);
    bar(f1);
    os << "<td class=\"num\">" << p.support << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
  return os.str();
}

std::string config_html(const std::vector<ConfigEntry>& config) {
  std::ostringstream os;
  os << "<table class=\"data config\">\n<tbody>\n";
  bool first = true;
  std::string section;
  for (const auto& e : config) {
    if (first || e.section != section) {
      section = e.section;
      os << "<tr class=\"section\"><th colspan=\"2\">"
         << html_escape(section.empty() ? "(top level)" : "[" + section + "]") << "</th></tr>\n";
      first = false;
    }
    os << "<tr><td class=\"key\">" << html_escape(e.key) << "</td><td class=\"value\">"
       << html_escape(e.value) << "</td></tr>\n";
  }
  os << "</tbody></table>\n";
  return os.str();
}

}  // namespace whet::train
