#include "optim/one_cycle_lr.h"

#include <cmath>

namespace whet::optim {

namespace {
constexpr double kPi = 3.141592653589793;  // math.pi

// One value for every group, or one per group (PyTorch's _format_param).
std::vector<double> per_group(const std::vector<double>& v, size_t groups, const char* what) {
  WHET_CHECK(v.size() == 1 || v.size() == groups, "OneCycleLR: ", what, " must have one value "
             "or one per parameter group; it has ", v.size(), ", the optimizer ", groups,
             " group(s)");
  return v.size() == 1 ? std::vector<double>(groups, v[0]) : v;
}
}  // namespace

OneCycleLR::OneCycleLR(Optimizer& opt, OneCycleLROptions o)
    : LRScheduler("OneCycleLR", opt), o_(std::move(o)) {
  if (o_.total_steps != 0) {
    WHET_CHECK(o_.total_steps > 0, "OneCycleLR: expected positive integer total_steps, but got ",
               o_.total_steps);
    total_steps_ = o_.total_steps;
  } else {
    WHET_CHECK(o_.epochs > 0 && o_.steps_per_epoch > 0, "OneCycleLR: you must define either "
               "total_steps or (epochs and steps_per_epoch), all positive");
    total_steps_ = o_.epochs * o_.steps_per_epoch;
  }
  WHET_CHECK(o_.pct_start >= 0 && o_.pct_start <= 1, "OneCycleLR: expected float between 0 "
             "and 1 pct_start, but got ", o_.pct_start);
  build_phases();
  size_t groups = num_groups();
  max_lrs_ = per_group(o_.max_lr, groups, "max_lr");
  for (size_t g = 0; g < groups; ++g) {
    initial_lrs_.push_back(max_lrs_[g] / o_.div_factor);
    min_lrs_.push_back(initial_lrs_[g] / o_.final_div_factor);
    opt.set_initial_lr(g, initial_lrs_[g]);
  }
  base_lrs_ = initial_lrs_;
  if (o_.cycle_momentum) {
    if (opt.has_hyper("momentum")) momentum_name_ = "momentum";
    else if (opt.has_hyper("beta1")) momentum_name_ = "beta1";
    WHET_CHECK(!momentum_name_.empty(), "OneCycleLR: optimizer ", opt.name(),
               " must support momentum or beta1 with cycle_momentum enabled");
    max_momenta_ = per_group(o_.max_momentum, groups, "max_momentum");
    base_momenta_ = per_group(o_.base_momentum, groups, "base_momentum");
    for (size_t g = 0; g < groups; ++g) opt.set_hyper(g, momentum_name_, max_momenta_[g]);
  }
  initial_step();
}

void OneCycleLR::build_phases() {
  double n = double(total_steps_), p = o_.pct_start;
  if (o_.three_phase) {
    phases_ = {{p * n - 1, kInitial, kMax, true, false},
               {2 * p * n - 2, kMax, kInitial, false, true},
               {n - 1, kInitial, kMin, true, true}};
  } else {
    phases_ = {{p * n - 1, kInitial, kMax, true, false}, {n - 1, kMax, kMin, false, true}};
  }
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == AnnealStrategy::linear) return (end - start) * pct + start;
  double cos_out = std::cos(kPi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  double step_num = double(last_epoch_);
  WHET_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_,
             " times; the specified number of total steps is ", total_steps_);
  std::vector<double> lrs;
  for (size_t g = 0; g < num_groups(); ++g) {
    auto level = [&](Level l) {
      return l == kInitial ? initial_lrs_[g] : l == kMax ? max_lrs_[g] : min_lrs_[g];
    };
    auto momentum = [&](bool at_max) { return at_max ? max_momenta_[g] : base_momenta_[g]; };
    double start_step = 0.0, lr = 0.0, mom = 0.0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& ph = phases_[i];
      if (step_num <= ph.end_step || i + 1 == phases_.size()) {
        double pct = (step_num - start_step) / (ph.end_step - start_step);
        lr = anneal(level(ph.start_lr), level(ph.end_lr), pct);
        if (!momentum_name_.empty())
          mom = anneal(momentum(ph.start_at_max_momentum), momentum(ph.end_at_max_momentum), pct);
        break;
      }
      start_step = ph.end_step;
    }
    lrs.push_back(lr);
    if (!momentum_name_.empty()) opt_->set_hyper(g, momentum_name_, mom);
  }
  return lrs;
}

void OneCycleLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("total_steps", scalar_f64(double(total_steps_)));
  sd.emplace_back("pct_start", scalar_f64(o_.pct_start));
  sd.emplace_back("anneal_linear",
                  scalar_f64(o_.anneal_strategy == AnnealStrategy::linear ? 1 : 0));
  sd.emplace_back("three_phase", scalar_f64(o_.three_phase ? 1 : 0));
  sd.emplace_back("initial_lrs", vector_f64(initial_lrs_));
  sd.emplace_back("max_lrs", vector_f64(max_lrs_));
  sd.emplace_back("min_lrs", vector_f64(min_lrs_));
  if (!momentum_name_.empty()) {
    sd.emplace_back("max_momentum", vector_f64(max_momenta_));
    sd.emplace_back("base_momentum", vector_f64(base_momenta_));
  }
}

void OneCycleLR::load_options(StateReader& r) {
  int64_t groups = int64_t(num_groups());
  int64_t total = int64_t(r.scalar("total_steps"));
  WHET_CHECK(total > 0, "OneCycleLR load_state_dict: total_steps must be positive");
  double pct = r.scalar("pct_start");
  bool linear = r.scalar("anneal_linear") != 0, three = r.scalar("three_phase") != 0;
  std::vector<double> initial = r.list("initial_lrs", groups), max = r.list("max_lrs", groups),
                      min = r.list("min_lrs", groups), max_m, base_m;
  WHET_CHECK(momentum_name_.empty() == !r.has("max_momentum"), "OneCycleLR load_state_dict: "
             "the state was saved with momentum cycling ",
             momentum_name_.empty() ? "on" : "off", ", this scheduler has it ",
             momentum_name_.empty() ? "off" : "on");
  if (!momentum_name_.empty()) {
    max_m = r.list("max_momentum", groups);
    base_m = r.list("base_momentum", groups);
  }
  total_steps_ = total;
  o_.pct_start = pct;
  o_.anneal_strategy = linear ? AnnealStrategy::linear : AnnealStrategy::cos;
  o_.three_phase = three;
  build_phases();
  initial_lrs_ = std::move(initial);
  max_lrs_ = std::move(max);
  min_lrs_ = std::move(min);
  max_momenta_ = std::move(max_m);
  base_momenta_ = std::move(base_m);
}

}  // namespace whet::optim
