#include "optim/schedulers.h"

#include <algorithm>
#include <cmath>

namespace whet::optim {

namespace {
constexpr double kPi = 3.141592653589793;  // math.pi

// Python's a % b (the sign of b), which PyTorch's cosine schedule relies on.
int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

std::vector<double> scaled(std::vector<double> lrs, double factor) {
  for (double& lr : lrs) lr *= factor;
  return lrs;
}
}  // namespace

// ---- StepLR ----

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler("StepLR", opt), step_size_(step_size), gamma_(gamma) {
  WHET_CHECK(step_size_ > 0, "StepLR: step_size must be positive, not ", step_size_);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  if (last_epoch_ == 0 || py_mod(last_epoch_, step_size_) != 0) return current_lrs();
  return scaled(current_lrs(), gamma_);
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  double k = std::floor(double(last_epoch_) / double(step_size_));
  return scaled(base_lrs_, std::pow(gamma_, k));
}

void StepLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("step_size", scalar_f64(double(step_size_)));
  sd.emplace_back("gamma", scalar_f64(gamma_));
}

void StepLR::load_options(StateReader& r) {
  int64_t step_size = int64_t(r.scalar("step_size"));
  WHET_CHECK(step_size > 0, "StepLR load_state_dict: step_size must be positive, not ",
             step_size);
  step_size_ = step_size;
  gamma_ = r.scalar("gamma");
}

// ---- MultiStepLR ----

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler("MultiStepLR", opt), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return current_lrs();
  return scaled(current_lrs(), std::pow(gamma_, double(count)));
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                milestones_.begin();
  return scaled(base_lrs_, std::pow(gamma_, double(passed)));
}

void MultiStepLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("milestones", vector_f64({milestones_.begin(), milestones_.end()}));
  sd.emplace_back("gamma", scalar_f64(gamma_));
}

void MultiStepLR::load_options(StateReader& r) {
  std::vector<double> m = r.list("milestones");
  milestones_.assign(m.begin(), m.end());
  std::sort(milestones_.begin(), milestones_.end());
  gamma_ = r.scalar("gamma");
}

// ---- ExponentialLR ----

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma)
    : LRScheduler("ExponentialLR", opt), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  if (last_epoch_ == 0) return current_lrs();
  return scaled(current_lrs(), gamma_);
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  return scaled(base_lrs_, std::pow(gamma_, double(last_epoch_)));
}

void ExponentialLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("gamma", scalar_f64(gamma_));
}

void ExponentialLR::load_options(StateReader& r) { gamma_ = r.scalar("gamma"); }

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", opt), t_max_(t_max), eta_min_(eta_min) {
  WHET_CHECK(t_max_ > 0, "CosineAnnealingLR: T_max must be positive, not ", t_max_);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = current_lrs();
  double e = double(last_epoch_), t = double(t_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {  // resumed at a later epoch: the closed form
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(e * kPi / t)) / 2;
    return lrs;
  }
  if (py_mod(last_epoch_ - 1 - t_max_, 2 * t_max_) == 0) {
    // Just past a minimum, where the ratio below would divide by 1 + cos(π) = 0.
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / t)) / 2;
    return lrs;
  }
  double ratio = (1 + std::cos(kPi * e / t)) / (1 + std::cos(kPi * (e - 1) / t));
  for (double& lr : lrs) lr = ratio * (lr - eta_min_) + eta_min_;
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> lrs = base_lrs_;
  double c = std::cos(kPi * double(last_epoch_) / double(t_max_));
  for (double& lr : lrs) lr = eta_min_ + (lr - eta_min_) * (1 + c) / 2;
  return lrs;
}

void CosineAnnealingLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("T_max", scalar_f64(double(t_max_)));
  sd.emplace_back("eta_min", scalar_f64(eta_min_));
}

void CosineAnnealingLR::load_options(StateReader& r) {
  int64_t t_max = int64_t(r.scalar("T_max"));
  WHET_CHECK(t_max > 0, "CosineAnnealingLR load_state_dict: T_max must be positive, not ",
             t_max);
  t_max_ = t_max;
  eta_min_ = r.scalar("eta_min");
}

// ---- LinearLR ----

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler("LinearLR", opt),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  check(start_factor_, end_factor_, total_iters_);
  initial_step();
}

void LinearLR::check(double start_factor, double end_factor, int64_t total_iters) {
  WHET_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: starting multiplicative "
             "factor expected to be greater than 0 and less or equal to 1, got ", start_factor);
  WHET_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: ending multiplicative factor "
             "expected to be between 0 and 1, got ", end_factor);
  WHET_CHECK(total_iters > 0, "LinearLR: total_iters must be positive, not ", total_iters);
}

std::vector<double> LinearLR::get_lr() {
  if (last_epoch_ == 0) return scaled(current_lrs(), start_factor_);
  if (last_epoch_ > total_iters_) return current_lrs();
  double d = end_factor_ - start_factor_;
  double factor =
      1.0 + d / (double(total_iters_) * start_factor_ + double(last_epoch_ - 1) * d);
  return scaled(current_lrs(), factor);
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  double d = end_factor_ - start_factor_;
  double factor = start_factor_ + d * double(std::min(total_iters_, last_epoch_)) /
                                      double(total_iters_);
  return scaled(base_lrs_, factor);
}

void LinearLR::save_options(NamedTensors& sd) const {
  sd.emplace_back("start_factor", scalar_f64(start_factor_));
  sd.emplace_back("end_factor", scalar_f64(end_factor_));
  sd.emplace_back("total_iters", scalar_f64(double(total_iters_)));
}

void LinearLR::load_options(StateReader& r) {
  double s = r.scalar("start_factor"), e = r.scalar("end_factor");
  int64_t n = int64_t(r.scalar("total_iters"));
  check(s, e, n);
  start_factor_ = s, end_factor_ = e, total_iters_ = n;
}

}  // namespace whet::optim
