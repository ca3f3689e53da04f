#include "optim/reduce_lr_on_plateau.h"

#include <algorithm>
#include <limits>

namespace whet::optim {

namespace {
using Mode = ReduceLROnPlateauOptions::Mode;
using ThresholdMode = ReduceLROnPlateauOptions::ThresholdMode;

double worst(Mode m) {
  double inf = std::numeric_limits<double>::infinity();
  return m == Mode::min ? inf : -inf;
}

std::vector<double> current_lrs(const Optimizer& opt) {
  std::vector<double> lrs;
  for (size_t g = 0; g < opt.num_groups(); ++g) lrs.push_back(opt.lr(g));
  return lrs;
}
}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, ReduceLROnPlateauOptions o)
    : opt_(&opt), o_(std::move(o)), best_(worst(o_.mode)) {
  WHET_CHECK(o_.factor < 1.0, "ReduceLROnPlateau: factor should be < 1.0, got ", o_.factor);
  WHET_CHECK(o_.patience >= 0 && o_.cooldown >= 0,
             "ReduceLROnPlateau: patience and cooldown must be >= 0");
  size_t groups = opt.num_groups();
  WHET_CHECK(o_.min_lr.size() == 1 || o_.min_lr.size() == groups, "ReduceLROnPlateau: expected ",
             groups, " min_lrs, got ", o_.min_lr.size());
  min_lrs_ = o_.min_lr.size() == 1 ? std::vector<double>(groups, o_.min_lr[0]) : o_.min_lr;
  last_lr_ = current_lrs(opt);
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  bool rel = o_.threshold_mode == ThresholdMode::rel;
  if (o_.mode == Mode::min) return rel ? a < best * (1.0 - o_.threshold) : a < best - o_.threshold;
  return rel ? a > best * (o_.threshold + 1.0) : a > best + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    reduce_lr();
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = current_lrs(*opt_);
}

void ReduceLROnPlateau::reduce_lr() {
  for (size_t g = 0; g < opt_->num_groups(); ++g) {
    double old_lr = opt_->lr(g);
    double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
    if (old_lr - new_lr > o_.eps) opt_->set_lr(g, new_lr);
  }
}

NamedTensors ReduceLROnPlateau::state_dict() const {
  return {{"last_epoch", scalar_f64(double(last_epoch_))},
          {"best", scalar_f64(best_)},
          {"num_bad_epochs", scalar_f64(double(num_bad_epochs_))},
          {"cooldown_counter", scalar_f64(double(cooldown_counter_))},
          {"last_lr", vector_f64(last_lr_)},
          {"min_lrs", vector_f64(min_lrs_)},
          {"mode", scalar_f64(o_.mode == Mode::max ? 1 : 0)},
          {"threshold_mode", scalar_f64(o_.threshold_mode == ThresholdMode::abs ? 1 : 0)},
          {"factor", scalar_f64(o_.factor)},
          {"patience", scalar_f64(double(o_.patience))},
          {"threshold", scalar_f64(o_.threshold)},
          {"cooldown", scalar_f64(double(o_.cooldown))},
          {"eps", scalar_f64(o_.eps)}};
}

void ReduceLROnPlateau::load_state_dict(const NamedTensors& sd) {
  StateReader r(sd, "ReduceLROnPlateau load_state_dict");
  int64_t groups = int64_t(opt_->num_groups());
  ReduceLROnPlateauOptions o = o_;
  int64_t last_epoch = int64_t(r.scalar("last_epoch"));
  double best = r.scalar("best");
  int64_t bad = int64_t(r.scalar("num_bad_epochs"));
  int64_t cooldown_counter = int64_t(r.scalar("cooldown_counter"));
  std::vector<double> last_lr = r.list("last_lr", groups);
  std::vector<double> min_lrs = r.list("min_lrs", groups);
  o.mode = r.scalar("mode") != 0 ? Mode::max : Mode::min;
  o.threshold_mode = r.scalar("threshold_mode") != 0 ? ThresholdMode::abs : ThresholdMode::rel;
  o.factor = r.scalar("factor");
  o.patience = int64_t(r.scalar("patience"));
  o.threshold = r.scalar("threshold");
  o.cooldown = int64_t(r.scalar("cooldown"));
  o.eps = r.scalar("eps");
  r.finish();
  WHET_CHECK(o.factor < 1.0, "ReduceLROnPlateau load_state_dict: factor should be < 1.0");
  o.min_lr = min_lrs;
  o_ = std::move(o);
  min_lrs_ = std::move(min_lrs);
  last_lr_ = std::move(last_lr);
  last_epoch_ = last_epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
}

}  // namespace whet::optim
