// The decay schedules of torch.optim.lr_scheduler, each in PyTorch's recursive form (the
// current lr scaled per step) with its closed form beside it. Epoch 0 is the constructor's.
#pragma once
#include <vector>

#include "optim/lr_scheduler.h"

namespace whet::optim {

// lr *= gamma every step_size epochs: base·gamma^⌊epoch/step_size⌋.  StepLR(opt, step_size, gamma)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma^k at each milestone listed k times: base·gamma^(milestones passed).
// MultiStepLR(opt, milestones, gamma)
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  std::vector<int64_t> milestones_;  // sorted, repeats kept
  double gamma_;
};

// lr *= gamma every epoch: base·gamma^epoch.  ExponentialLR(opt, gamma)
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  double gamma_;
};

// η = η_min + (base − η_min)(1 + cos(π·epoch/T_max))/2, computed recursively as PyTorch does
// (so past T_max it rises again, period 2·T_max).  CosineAnnealingLR(opt, T_max, eta_min)
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// The factor goes linearly from start_factor to end_factor over total_iters epochs, then
// stays: base·(s + (e − s)·min(epoch, total_iters)/total_iters).
// LinearLR(opt, start_factor, end_factor, total_iters)
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  static void check(double start_factor, double end_factor, int64_t total_iters);
  double start_factor_, end_factor_;
  int64_t total_iters_;
};

}  // namespace whet::optim
