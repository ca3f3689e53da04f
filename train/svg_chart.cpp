#include "train/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace whet::train {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target, bool integer) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  if (integer) step = std::max(1.0, std::round(step));
  std::vector<double> ticks;
  // Snap to multiples of step, so 0.30000000000000004 reads as 0.3.
  const double first = std::ceil(lo / step - 1e-9);
  for (double k = first; k * step <= hi + step * 1e-9; k += 1) ticks.push_back(k * step);
  return ticks;
}

std::string tick_label(double v, double step) {
  char buf[48];
  if (std::abs(v) < step * 1e-6) v = 0;  // -0 and rounding dust
  const double a = std::max(std::abs(v), std::abs(step));
  if (v != 0 && (a < 1e-3 || a >= 1e6)) {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  } else {
    const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  }
  return buf;
}

namespace {
std::string num(double v) {  // SVG coordinates: two decimals are sub-pixel enough
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string value_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
  // A flat series still needs a visible band.
  void widen() {
    if (hi > lo) return;
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
};
}  // namespace

std::string line_chart_svg(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  const double W = o.width, H = o.height;
  const double left = 62, right = 18, top = 52, bottom = 46;
  const double pw = W - left - right, ph = H - top - bottom;

  Range xr, yr;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) xr.add(s.x[i]), yr.add(s.y[i]);

  std::ostringstream os;
  os << "<svg class=\"chart\" viewBox=\"0 0 " << o.width << " " << o.height << "\" width=\""
     << o.width << "\" height=\"" << o.height << "\" role=\"img\" aria-label=\""
     << html_escape(o.title) << "\">\n"
     << "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"" << o.width << "\" height=\"" << o.height
     << "\"/>\n"
     << "<text class=\"title\" x=\"" << num(left) << "\" y=\"20\">" << html_escape(o.title)
     << "</text>\n";

  // Legend: one swatch and name per series, left to right under the title.
  double lx = left;
  for (const auto& s : series) {
    os << "<line x1=\"" << num(lx) << "\" y1=\"34\" x2=\"" << num(lx + 18)
       << "\" y2=\"34\" stroke=\"" << s.color << "\" stroke-width=\"3\""
       << (s.dashed ? " stroke-dasharray=\"5 3\"" : "")
       << (s.opacity < 1 ? " stroke-opacity=\"" + num(std::max(s.opacity, 0.4)) + "\"" : "") << "/>"
       << "<text class=\"legend\" x=\"" << num(lx + 23) << "\" y=\"38\">" << html_escape(s.name)
       << "</text>\n";
    lx += 23 + 7.0 * double(s.name.size()) + 18;
  }

  if (xr.empty()) {
    os << "<text class=\"empty\" x=\"" << num(left + pw / 2) << "\" y=\"" << num(top + ph / 2)
       << "\" text-anchor=\"middle\">no data</text>\n</svg>\n";
    return os.str();
  }
  if (o.y_from_zero) yr.add(0);
  xr.widen();
  yr.widen();
  std::vector<double> xt = nice_ticks(xr.lo, xr.hi, 6, o.integer_x);
  std::vector<double> yt = nice_ticks(yr.lo, yr.hi, 5);
  // The axes span whole tick steps, so the curve never touches the frame mid-step.
  const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  double y0 = std::min(yr.lo, yt.front()), y1 = std::max(yr.hi, yt.back());
  if (yt.front() > yr.lo) y0 = yt.front() - ystep, yt.insert(yt.begin(), y0);
  if (yt.back() < yr.hi) y1 = yt.back() + ystep, yt.push_back(y1);
  if (o.y_cap > 0 && yr.hi <= o.y_cap && y1 > o.y_cap) {
    y1 = o.y_cap;
    while (!yt.empty() && yt.back() > y1 + ystep * 1e-9) yt.pop_back();
  }
  const double x0 = xr.lo, x1 = xr.hi;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  os << "<g class=\"grid\">\n";
  for (double t : yt)
    os << "<line x1=\"" << num(left) << "\" y1=\"" << num(py(t)) << "\" x2=\"" << num(left + pw)
       << "\" y2=\"" << num(py(t)) << "\"/>\n";
  for (double t : xt)
    if (t >= x0 && t <= x1)
      os << "<line x1=\"" << num(px(t)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(px(t))
         << "\" y2=\"" << num(top + ph) << "\"/>\n";
  os << "</g>\n<g class=\"axis\">\n"
     << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(pw)
     << "\" height=\"" << num(ph) << "\" fill=\"none\"/>\n";
  for (double t : yt)
    os << "<text x=\"" << num(left - 6) << "\" y=\"" << num(py(t) + 4) << "\" text-anchor=\"end\">"
       << tick_label(t, ystep) << "</text>\n";
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : xt)
    if (t >= x0 && t <= x1)
      os << "<text x=\"" << num(px(t)) << "\" y=\"" << num(top + ph + 16)
         << "\" text-anchor=\"middle\">" << tick_label(t, xstep) << "</text>\n";
  os << "<text class=\"label\" x=\"" << num(left + pw / 2) << "\" y=\"" << num(H - 8)
     << "\" text-anchor=\"middle\">" << html_escape(o.x_label) << "</text>\n"
     << "<text class=\"label\" transform=\"translate(14 " << num(top + ph / 2)
     << ") rotate(-90)\" text-anchor=\"middle\">" << html_escape(o.y_label) << "</text>\n"
     << "</g>\n";

  for (const auto& s : series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    std::string style = "fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"" + num(s.width) +
                        "\" stroke-linejoin=\"round\"";
    if (s.dashed) style += " stroke-dasharray=\"6 4\"";
    if (s.opacity < 1) style += " stroke-opacity=\"" + num(s.opacity) + "\"";
    std::string pts;
    size_t count = 0;
    auto flush = [&] {
      if (count > 1)
        os << "<polyline class=\"series\" " << style << " points=\"" << pts << "\"/>\n";
      pts.clear();
      count = 0;
    };
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      pts += (count ? " " : "") + num(px(s.x[i])) + "," + num(py(s.y[i]));
      ++count;
    }
    flush();
    if (!s.markers) continue;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      os << "<circle cx=\"" << num(px(s.x[i])) << "\" cy=\"" << num(py(s.y[i]))
         << "\" r=\"3.2\" fill=\"" << s.color << "\"><title>" << html_escape(s.name) << " @ "
         << html_escape(o.x_label) << " " << value_str(s.x[i]) << ": " << value_str(s.y[i])
         << "</title></circle>\n";
    }
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace whet::train
