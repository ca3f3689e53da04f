#include "train/progress.h"

#include <cmath>
#include <cstdio>

namespace whet::train {

namespace {
constexpr int kBarWidth = 20;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string lr_text(double lr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", lr);
  return buf;
}
}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::ostream& out, bool tty, bool quiet, int64_t log_every)
    : out_(out), tty_(tty), quiet_(quiet), log_every_(log_every) {}

Progress::~Progress() {
  if (bar_shown_) {
    out_ << "\n";
    out_.flush();
  }
}

void Progress::clear_bar() {
  if (!bar_shown_) return;
  out_ << "\r\x1b[K";  // to the line's start, erase it
  bar_shown_ = false;
}

void Progress::message(const std::string& line) {
  if (quiet_) return;
  clear_bar();
  out_ << line << "\n";
  out_.flush();
}

void Progress::step(const ProgressStep& s) {
  if (quiet_) return;
  const std::string stats = "loss " + fixed(s.loss, 4) + "  acc " + fixed(s.acc, 3) + "  " +
                            fixed(s.images_per_s, 0) + " img/s  ETA " + format_duration(s.eta_s);
  if (!tty_) {
    if (s.step % log_every_ != 0 && s.step != s.steps) return;
    out_ << "epoch " << s.epoch << "/" << s.epochs << "  step " << s.step << "/" << s.steps << "  "
         << stats << "  lr " << lr_text(s.lr) << "\n";
    out_.flush();
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (bar_shown_ && s.step != s.steps && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  int filled = s.steps > 0 ? int(kBarWidth * s.step / s.steps) : 0;
  std::string bar =
      "[" + std::string(size_t(filled), '#') + std::string(size_t(kBarWidth - filled), '.') + "]";
  out_ << "\r\x1b[Kepoch " << s.epoch << "/" << s.epochs << " " << bar << " " << s.step << "/"
       << s.steps << "  " << stats;
  out_.flush();
  bar_shown_ = true;
}

}  // namespace whet::train
