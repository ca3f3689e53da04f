#include "train/lr_find.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "train/trainer_state.h"

namespace whet::train {

void suggest_lr(LrFindResult& r) {
  const size_t n = r.smoothed.size();
  WHET_CHECK(n >= 3 && r.lrs.size() == n, "lr-find: ", n, " steps recorded; at least 3 are needed");
  size_t lowest = 0;
  for (size_t i = 1; i < n; ++i)
    if (r.smoothed[i] < r.smoothed[lowest]) lowest = i;
  r.min_lr = r.lrs[lowest];
  // Central differences against log(lr), up to the minimum (the cliff after it rises).
  double best = std::numeric_limits<double>::infinity();
  r.steepest_lr = r.lrs[std::max<size_t>(lowest, 1) - 1];
  for (size_t i = 1; i + 1 < n && i <= lowest; ++i) {
    const double slope = (r.smoothed[i + 1] - r.smoothed[i - 1]) /
                         (std::log(r.lrs[i + 1]) - std::log(r.lrs[i - 1]));
    if (slope < best) best = slope, r.steepest_lr = r.lrs[i];
  }
}

LrFindResult Trainer::find_lr(const LrFindOptions& o) {
  State& s = *s_;
  WHET_CHECK(o.start_lr > 0 && o.end_lr > o.start_lr, "lr-find: the range ", o.start_lr, " to ",
             o.end_lr, " must rise from a positive start");
  WHET_CHECK(o.steps >= 3, "lr-find: --steps ", o.steps, ": at least 3");
  WHET_CHECK(o.diverge > 1, "lr-find: --diverge ", o.diverge, ": must be above 1");
  std::vector<double> ratio;
  // From the groups' configured rates: the optimizer's may already be scaled by a warm-up.
  for (const ParamGroupSpec& g : s.groups) ratio.push_back(g.lr / s.cfg.lr);

  LrFindResult r;
  const double beta = 0.98;
  double average = 0, lowest = std::numeric_limits<double>::infinity();
  int64_t epoch = s.start.epoch;
  s.model->train();
  s.train_loader->seek({epoch, s.start.batch});
  for (int64_t i = 0; i < o.steps; ++i) {
    const double lr = o.start_lr * std::pow(o.end_lr / o.start_lr, double(i) / double(o.steps - 1));
    for (size_t g = 0; g < ratio.size(); ++g) s.opt->set_lr(g, lr * ratio[g]);
    data::Batch b;
    if (!s.train_loader->next(b)) {  // the data is shorter than the test: next epoch
      s.train_loader->seek({++epoch, 0});
      WHET_CHECK(s.train_loader->next(b), "lr-find: the training set gives no batch");
    }
    const StepOutcome step = s.train_step(b);
    ++s.global_step;
    Tensor loss = step.loss.to(Device::cpu()).to(DType::f64);
    if (s.parallel()) {  // one curve for all ranks, so they stop together
      s.comm->all_reduce(loss);
      loss = loss / double(s.comm->world_size());
    }
    const double value = loss.item();
    average = beta * average + (1 - beta) * value;
    const double smoothed = average / (1 - std::pow(beta, double(i + 1)));
    r.lrs.push_back(lr), r.losses.push_back(value), r.smoothed.push_back(smoothed);
    if (!std::isfinite(value) || (i > 0 && smoothed > o.diverge * lowest)) {
      r.diverged = true;
      break;
    }
    lowest = std::min(lowest, smoothed);
  }
  // A loss that turned non-finite is left out of the suggestion.
  if (!r.losses.empty() && !std::isfinite(r.losses.back()))
    r.lrs.pop_back(), r.losses.pop_back(), r.smoothed.pop_back();
  suggest_lr(r);
  return r;
}

}  // namespace whet::train
