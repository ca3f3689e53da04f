// The learning-rate range test (Smith 2017; fastai's lr_find): a few hundred steps with the
// learning rate rising geometrically from start_lr to end_lr, the loss recorded after each,
// smoothed (exponential average with bias correction, beta 0.98), until the smoothed loss
// passes `diverge` times its lowest. The suggestion is the lr where the smoothed loss falls
// fastest against log(lr), before its minimum; fastai's other rule, the minimum's lr / 10,
// comes with it. Every parameter group keeps its ratio to --lr (head and layer-decay groups).
// Trainer::find_lr runs it on the trainer's model, which it leaves trained: a dry run.
#pragma once
#include <cstdint>
#include <vector>

namespace whet::train {

struct LrFindOptions {
  double start_lr = 1e-7, end_lr = 10;
  int64_t steps = 100;
  double diverge = 4;
};

struct LrFindResult {
  std::vector<double> lrs, losses, smoothed;  // one per step taken
  bool diverged = false;                      // stopped early: the loss ran away
  double steepest_lr = 0;                     // the suggestion
  double min_lr = 0;                          // where the smoothed loss was lowest
};

// The suggestion and minimum of a recorded curve (what find_lr fills in): separate so the
// rule is tested on curves of known shape.
void suggest_lr(LrFindResult& r);

}  // namespace whet::train
