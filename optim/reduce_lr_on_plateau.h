// Lowers the lr when a metric stops improving, as torch.optim.lr_scheduler.ReduceLROnPlateau:
// after more than `patience` epochs without an improvement beyond `threshold` (relative or
// absolute), lr = max(lr·factor, min_lr) in every group (skipped when the change is below eps),
// then `cooldown` epochs are ignored. Call step(metric) once per evaluation.
#pragma once
#include <vector>

#include "optim/optimizer.h"

namespace whet::optim {

struct ReduceLROnPlateauOptions {
  enum class Mode { min, max };
  enum class ThresholdMode { rel, abs };
  Mode mode = Mode::min;
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::rel;
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one value, or one per parameter group
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& opt, ReduceLROnPlateauOptions o = {});
  void step(double metric);

  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

  // Counters, best, last_lr and the options (mode and threshold_mode as 0 = min/rel,
  // 1 = max/abs), as named tensors.
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& sd);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();

  Optimizer* opt_;
  ReduceLROnPlateauOptions o_;
  std::vector<double> min_lrs_, last_lr_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace whet::optim
