// The base of the learning-rate schedulers, as torch.optim.lr_scheduler.LRScheduler.
//
// A scheduler acts on every parameter group. Constructing one records each group's starting
// lr as the optimizer's initial_lr (unless a scheduler already did) and takes the first step
// (epoch 0). Call step() after optimizer.step(). Schedules use PyTorch's recursive (chainable)
// form, each step scaling the current lr, so the values match PyTorch's step by step; the
// closed form is used where PyTorch uses it (SequentialLR entering a new schedule).
//
// State dict (named tensors): last_epoch, step_count (0-D), base_lrs, last_lr (one value per
// group), and the schedule's options. It does not hold the optimizer's lrs: save and load
// the optimizer's state dict with it.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace whet::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch (or batch) and writes the new lrs into the optimizer.
  virtual void step();
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *opt_; }
  const std::string& name() const { return name_; }

  virtual NamedTensors state_dict() const;
  // Refuses missing or unexpected keys and a different number of groups.
  virtual void load_state_dict(const NamedTensors& sd);

 protected:
  LRScheduler(std::string name, Optimizer& opt);
  // PyTorch's _initial_step: the derived constructor's last act (a base constructor cannot
  // call the derived get_lr).
  void initial_step();
  // The recursive form: new lrs from the optimizer's current ones at last_epoch_.
  virtual std::vector<double> get_lr() = 0;
  // The closed form at last_epoch_ from base_lrs_, where the schedule has one.
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  virtual void save_options(NamedTensors&) const {}
  virtual void load_options(StateReader&) {}

  // PyTorch's _update_lr: next epoch by the recursive form, or `epoch` by the closed form.
  void update_lr(std::optional<int64_t> epoch = std::nullopt);
  std::vector<double> current_lrs() const;
  size_t num_groups() const { return opt_->num_groups(); }

  Optimizer* opt_;
  std::string name_;
  std::vector<double> base_lrs_, last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;

  friend class SequentialLR;
};

}  // namespace whet::optim
