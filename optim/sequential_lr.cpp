#include "optim/sequential_lr.h"

#include <algorithm>

#include "optim/schedulers.h"

namespace whet::optim {

SequentialLR::SequentialLR(Optimizer& opt, std::vector<std::unique_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler("SequentialLR", opt),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  WHET_CHECK(!schedulers_.empty(), "SequentialLR expects at least one scheduler");
  for (size_t k = 0; k < schedulers_.size(); ++k) {
    WHET_CHECK(schedulers_[k] != nullptr, "SequentialLR: scheduler ", k, " is null");
    WHET_CHECK(&schedulers_[k]->optimizer() == &opt, "SequentialLR: scheduler ", k, " (",
               schedulers_[k]->name(), ") drives another optimizer");
    WHET_CHECK(dynamic_cast<SequentialLR*>(schedulers_[k].get()) == nullptr,
               "SequentialLR: scheduler ", k, " is itself a SequentialLR; flatten the list");
  }
  WHET_CHECK(milestones_.size() + 1 == schedulers_.size(), "SequentialLR expects one milestone "
             "fewer than schedulers, got ", schedulers_.size(), " schedulers and ",
             milestones_.size(), " milestones");
  WHET_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
             "SequentialLR: milestones must be in increasing order");
  last_epoch_ = 0;
  // Back to the initial lrs; undo the first step each scheduler took when it was built; then
  // only the first one starts.
  for (size_t g = 0; g < num_groups(); ++g) opt.set_lr(g, *opt.initial_lr(g));
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  last_epoch_ += 1;
  size_t idx = size_t(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                      milestones_.begin());
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) s.update_lr(0);
  else s.step();
  last_lr_ = s.get_last_lr();
}

NamedTensors SequentialLR::state_dict() const {
  std::vector<double> milestones(milestones_.begin(), milestones_.end());
  NamedTensors sd{{"last_epoch", scalar_f64(double(last_epoch_))},
                  {"milestones", vector_f64(milestones)},
                  {"last_lr", vector_f64(last_lr_)}};
  for (size_t k = 0; k < schedulers_.size(); ++k)
    append_prefixed(sd, "schedulers." + std::to_string(k) + ".", schedulers_[k]->state_dict());
  return sd;
}

void SequentialLR::load_state_dict(const NamedTensors& sd) {
  StateReader r(sd, "SequentialLR load_state_dict");
  int64_t last_epoch = int64_t(r.scalar("last_epoch"));
  std::vector<double> m = r.list("milestones", int64_t(milestones_.size()));
  std::vector<double> last_lr = r.list("last_lr", int64_t(num_groups()));
  std::vector<NamedTensors> subs;
  for (size_t k = 0; k < schedulers_.size(); ++k)
    subs.push_back(r.sub("schedulers." + std::to_string(k) + "."));
  r.finish();
  // Each scheduler checks its own part; if one refuses, the ones before it are put back.
  std::vector<NamedTensors> before;
  for (auto& s : schedulers_) before.push_back(s->state_dict());
  try {
    for (size_t k = 0; k < schedulers_.size(); ++k) schedulers_[k]->load_state_dict(subs[k]);
  } catch (...) {
    for (size_t k = 0; k < schedulers_.size(); ++k) schedulers_[k]->load_state_dict(before[k]);
    throw;
  }
  last_epoch_ = last_epoch;
  milestones_.assign(m.begin(), m.end());
  last_lr_ = std::move(last_lr);
}

std::unique_ptr<SequentialLR> linear_warmup(Optimizer& opt, int64_t warmup_steps,
                                            double start_factor,
                                            std::unique_ptr<LRScheduler> main) {
  WHET_CHECK(warmup_steps > 0, "linear_warmup: warmup_steps must be positive, not ",
             warmup_steps);
  WHET_CHECK(main != nullptr, "linear_warmup: the main scheduler is null");
  std::vector<std::unique_ptr<LRScheduler>> list;
  list.push_back(std::make_unique<LinearLR>(opt, start_factor, 1.0, warmup_steps));
  list.push_back(std::move(main));
  return std::make_unique<SequentialLR>(opt, std::move(list), std::vector<int64_t>{warmup_steps});
}

}  // namespace whet::optim
