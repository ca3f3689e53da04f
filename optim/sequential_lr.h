// Schedules in sequence, as torch.optim.lr_scheduler.SequentialLR, and the usual use of it:
// a linear warm-up followed by any other schedule.
#pragma once
#include <memory>
#include <vector>

#include "optim/lr_scheduler.h"

namespace whet::optim {

// Runs `schedulers` one after another: schedulers[k] from epoch milestones[k-1] on, starting
// from its closed form at 0. torch.optim.lr_scheduler.SequentialLR; the given schedulers
// must drive `opt` and are owned from here on.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& opt, std::vector<std::unique_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;
  const std::vector<std::unique_ptr<LRScheduler>>& schedulers() const { return schedulers_; }

  // last_epoch, milestones, last_lr, and each scheduler's state under "schedulers.<k>.".
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& sd) override;

 protected:
  std::vector<double> get_lr() override { return current_lrs(); }  // never used

 private:
  std::vector<std::unique_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

// A linear warm-up from start_factor·lr to lr over warmup_steps steps, then `main`:
// SequentialLR([LinearLR(start_factor, 1, warmup_steps), main], milestones=[warmup_steps]).
std::unique_ptr<SequentialLR> linear_warmup(Optimizer& opt, int64_t warmup_steps,
                                            double start_factor,
                                            std::unique_ptr<LRScheduler> main);

}  // namespace whet::optim
