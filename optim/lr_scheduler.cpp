#include "optim/lr_scheduler.h"

namespace whet::optim {

LRScheduler::LRScheduler(std::string name, Optimizer& opt) : opt_(&opt), name_(std::move(name)) {
  // PyTorch: group.setdefault("initial_lr", group["lr"]); base_lrs = the initial lrs.
  for (size_t g = 0; g < opt.num_groups(); ++g) {
    if (!opt.initial_lr(g)) opt.set_initial_lr(g, opt.lr(g));
    base_lrs_.push_back(*opt.initial_lr(g));
  }
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  step_count_ += 1;
  update_lr();
}

std::vector<double> LRScheduler::current_lrs() const {
  std::vector<double> lrs;
  for (size_t g = 0; g < num_groups(); ++g) lrs.push_back(opt_->lr(g));
  return lrs;
}

void LRScheduler::update_lr(std::optional<int64_t> epoch) {
  std::vector<double> values;
  if (!epoch) {
    last_epoch_ += 1;
    values = get_lr();
  } else {
    last_epoch_ = *epoch;
    std::optional<std::vector<double>> closed = closed_form_lr();
    values = closed ? *closed : get_lr();
  }
  WHET_CHECK(values.size() == num_groups(), name_, ": computed ", values.size(),
             " learning rates for ", num_groups(), " parameter groups");
  for (size_t g = 0; g < values.size(); ++g) opt_->set_lr(g, values[g]);
  last_lr_ = current_lrs();
}

NamedTensors LRScheduler::state_dict() const {
  NamedTensors sd{{"last_epoch", scalar_f64(double(last_epoch_))},
                  {"step_count", scalar_f64(double(step_count_))},
                  {"base_lrs", vector_f64(base_lrs_)},
                  {"last_lr", vector_f64(last_lr_)}};
  save_options(sd);
  return sd;
}

void LRScheduler::load_state_dict(const NamedTensors& sd) {
  StateReader r(sd, name_ + " load_state_dict");
  int64_t groups = int64_t(num_groups());
  int64_t last_epoch = int64_t(r.scalar("last_epoch"));
  int64_t step_count = int64_t(r.scalar("step_count"));
  std::vector<double> base_lrs = r.list("base_lrs", groups);
  std::vector<double> last_lr = r.list("last_lr", groups);
  load_options(r);
  r.finish();
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

}  // namespace whet::optim
