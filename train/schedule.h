// The learning-rate schedule of a run, from the configuration: optim/'s schedulers advanced
// once per optimizer step, so warm-up and one-cycle move smoothly within an epoch, with the
// lengths given in epochs converted to steps:
//   constant      the lr stays
//   step          StepLR(step_size * steps_per_epoch, gamma): the staircase of epoch-wise
//                 StepLR, exactly
//   multistep     MultiStepLR(milestones * steps_per_epoch, gamma), milestones counted from
//                 the start of training
//   exponential   ExponentialLR(gamma^(1 / steps_per_epoch)): gamma per epoch, continuously
//   cosine        CosineAnnealingLR(T_max = the steps after warm-up, eta_min = min_lr)
//   onecycle      OneCycleLR(max_lr = each group's lr, total_steps = the steps after warm-up)
//   plateau       ReduceLROnPlateau(factor = gamma, patience, min_lr) on the validation loss
//                 (the training loss without validation data), once per epoch
// A warm-up (warmup_epochs > 0) runs first, linearly from 1% of each group's lr:
// linear_warmup(...) around the scheduler, or, for plateau, a LinearLR that hands over to it.
#pragma once
#include <memory>

#include "optim/lr_scheduler.h"
#include "optim/reduce_lr_on_plateau.h"
#include "train/config.h"

namespace whet::train {

class Schedule {
 public:
  // total_steps: steps_per_epoch * epochs, the length of the run.
  Schedule(optim::Optimizer& opt, const TrainConfig& c, int64_t steps_per_epoch,
           int64_t total_steps);

  void after_step();                     // after every optimizer step
  void after_epoch(double loss_metric);  // after each epoch's validation

  // Under "step." (the per-step scheduler, warm-up included) and "plateau.".
  nn::NamedTensors state_dict() const;
  void load_state_dict(const nn::NamedTensors& sd);

 private:
  std::unique_ptr<optim::LRScheduler> per_step_;  // null: constant without warm-up
  std::unique_ptr<optim::ReduceLROnPlateau> plateau_;
  int64_t warmup_steps_ = 0;
  bool warmup_only_ = false;  // per_step_ is a warm-up that stops at warmup_steps_
};

// Warm-up steps for the configuration: round(warmup_epochs * steps_per_epoch).
int64_t warmup_steps(const TrainConfig& c, int64_t steps_per_epoch);

}  // namespace whet::train
