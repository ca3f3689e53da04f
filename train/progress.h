// What a person watching a run sees. On a terminal, one progress line redrawn in place:
//   epoch 2/10 [#########...........]  45/120  loss 0.4211  acc 0.853  1520 img/s  ETA 3:12
// (at most ten redraws a second); anywhere else (a log file, CI), a plain line every
// log_every steps, so logs stay readable and small. Messages and epoch summaries go on lines
// of their own above the bar. quiet prints nothing.
#pragma once
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace whet::train {

struct ProgressStep {
  int64_t epoch = 0, epochs = 0;  // 1-based
  int64_t step = 0, steps = 0;    // within the epoch, 1-based
  int64_t global_step = 0;
  double loss = 0, acc = 0;  // running means over the epoch
  double lr = 0, images_per_s = 0;
  double eta_s = -1;  // seconds left in the run; < 0 unknown
};

class Progress {
 public:
  // tty: redraw a bar in place (pass isatty(fileno(stdout)) for std::cout).
  Progress(std::ostream& out, bool tty, bool quiet, int64_t log_every);
  ~Progress();

  void step(const ProgressStep& s);
  // A line of its own (clears the bar first on a terminal).
  void message(const std::string& line);

 private:
  void clear_bar();
  std::ostream& out_;
  bool tty_, quiet_, bar_shown_ = false;
  int64_t log_every_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "1:02:03", "3:12", "0:05".
std::string format_duration(double seconds);

}  // namespace whet::train
