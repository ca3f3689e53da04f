// The 1cycle policy, as torch.optim.lr_scheduler.OneCycleLR: lr rises from max_lr/div_factor
// to max_lr over pct_start of total_steps, then anneals to initial_lr/final_div_factor
// (three_phase: back to initial_lr first, then down). Momentum (SGD, RMSprop) or beta1
// (Adam, AdamW) cycles inversely between max_momentum and base_momentum, as PyTorch does for
// every optimizer that has one, including SGD built with momentum 0. Step it once per batch;
// stepping past total_steps throws.
#pragma once
#include <vector>

#include "optim/lr_scheduler.h"

namespace whet::optim {

enum class AnnealStrategy { cos, linear };

struct OneCycleLROptions {
  std::vector<double> max_lr;  // one value for every group, or one per group
  int64_t total_steps = 0;     // or, when 0, epochs * steps_per_epoch
  int64_t epochs = 0, steps_per_epoch = 0;
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::cos;
  bool cycle_momentum = true;
  std::vector<double> base_momentum = {0.85};  // one value, or one per group
  std::vector<double> max_momentum = {0.95};
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, OneCycleLROptions o);
  int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> get_lr() override;
  void save_options(NamedTensors& sd) const override;
  void load_options(StateReader& r) override;

 private:
  enum Level { kInitial, kMax, kMin };  // which lr a phase starts or ends at
  struct Phase {
    double end_step;
    Level start_lr, end_lr;
    bool start_at_max_momentum, end_at_max_momentum;
  };
  void build_phases();
  double anneal(double start, double end, double pct) const;

  OneCycleLROptions o_;
  int64_t total_steps_ = 0;
  std::vector<Phase> phases_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_, max_momenta_, base_momenta_;
  std::string momentum_name_;  // "momentum", "beta1", or empty when not cycled
};

}  // namespace whet::optim
