#include "train/schedule.h"

#include <cmath>

#include "core/error.h"
#include "optim/optim.h"

namespace whet::train {

namespace {
// Warm-up starts at 1% of each group's lr: low enough to calm the first steps of a fresh
// head, high enough that the first steps still move.
constexpr double kWarmupStart = 0.01;

std::unique_ptr<optim::LRScheduler> main_scheduler(optim::Optimizer& opt, const TrainConfig& c,
                                                   int64_t spe, int64_t warmup,
                                                   int64_t main_steps) {
  const std::string& s = c.scheduler;
  if (s == "step") return std::make_unique<optim::StepLR>(opt, c.step_size * spe, c.gamma);
  if (s == "multistep") {
    std::vector<int64_t> at;
    for (int64_t m : c.milestones) {
      // Milestones count from the start of training; the scheduler starts after warm-up.
      WHET_CHECK(m * spe > warmup, "--milestones ", m, ": falls within the warm-up of ",
                 c.warmup_epochs, " epochs");
      at.push_back(m * spe - warmup);
    }
    return std::make_unique<optim::MultiStepLR>(opt, at, c.gamma);
  }
  if (s == "exponential")
    return std::make_unique<optim::ExponentialLR>(opt, std::pow(c.gamma, 1.0 / double(spe)));
  if (s == "cosine") return std::make_unique<optim::CosineAnnealingLR>(opt, main_steps, c.min_lr);
  if (s == "onecycle") {
    optim::OneCycleLROptions o;
    for (size_t g = 0; g < opt.num_groups(); ++g) o.max_lr.push_back(opt.lr(g));
    o.total_steps = main_steps;
    return std::make_unique<optim::OneCycleLR>(opt, o);
  }
  return nullptr;  // constant, plateau
}
}  // namespace

int64_t warmup_steps(const TrainConfig& c, int64_t steps_per_epoch) {
  return std::llround(c.warmup_epochs * double(steps_per_epoch));
}

Schedule::Schedule(optim::Optimizer& opt, const TrainConfig& c, int64_t steps_per_epoch,
                   int64_t total_steps) {
  WHET_CHECK(steps_per_epoch > 0, "Schedule: no steps per epoch");
  warmup_steps_ = warmup_steps(c, steps_per_epoch);
  WHET_CHECK(warmup_steps_ < total_steps, "--warmup-epochs ", c.warmup_epochs, ": the warm-up (",
             warmup_steps_, " steps) must be shorter than the run (", total_steps, " steps)");
  if (c.scheduler == "plateau") {
    WHET_CHECK(c.gamma < 1, "--scheduler plateau: --gamma ", c.gamma,
               " must be below 1 (it multiplies the lr)");
    optim::ReduceLROnPlateauOptions o;
    o.factor = c.gamma;
    o.patience = c.patience;
    o.min_lr = {c.min_lr};
    plateau_ = std::make_unique<optim::ReduceLROnPlateau>(opt, o);
  }
  auto main = main_scheduler(opt, c, steps_per_epoch, warmup_steps_, total_steps - warmup_steps_);
  if (warmup_steps_ == 0) {
    per_step_ = std::move(main);
  } else if (main) {
    per_step_ = optim::linear_warmup(opt, warmup_steps_, kWarmupStart, std::move(main));
  } else {
    per_step_ = std::make_unique<optim::LinearLR>(opt, kWarmupStart, 1.0, warmup_steps_);
    warmup_only_ = true;
  }
}

void Schedule::after_step() {
  if (!per_step_) return;
  if (warmup_only_ && per_step_->last_epoch() >= warmup_steps_) return;  // plateau's turn
  per_step_->step();
}

void Schedule::after_epoch(double loss_metric) {
  if (!plateau_) return;
  if (per_step_ && per_step_->last_epoch() < warmup_steps_) return;  // still warming up
  plateau_->step(loss_metric);
}

nn::NamedTensors Schedule::state_dict() const {
  nn::NamedTensors sd;
  if (per_step_) optim::append_prefixed(sd, "step.", per_step_->state_dict());
  if (plateau_) optim::append_prefixed(sd, "plateau.", plateau_->state_dict());
  return sd;
}

void Schedule::load_state_dict(const nn::NamedTensors& sd) {
  optim::StateReader r(sd, "schedule state");
  nn::NamedTensors step = r.sub("step."), plateau = r.sub("plateau.");
  r.finish();
  WHET_CHECK(step.empty() == (per_step_ == nullptr) && plateau.empty() == (plateau_ == nullptr),
             "schedule state: the checkpoint's schedule is not this configuration's");
  if (per_step_) per_step_->load_state_dict(step);
  if (plateau_) plateau_->load_state_dict(plateau);
}

}  // namespace whet::train
