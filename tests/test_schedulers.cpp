// Learning-rate schedulers: each lr sequence is compared, step by step, with PyTorch's formulas
// evaluated here in plain double arithmetic (the recursive forms PyTorch's step() uses).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>

#include "core/ops.h"
#include "optim/optim.h"

using namespace whet;
using namespace whet::optim;

namespace {

using Vec = std::vector<double>;
constexpr double kPi = 3.141592653589793;

std::unique_ptr<SGD> sgd_two_groups(double lr0, double lr1, double momentum = 0.0) {
  SGDOptions a, b;
  a.lr = lr0, b.lr = lr1;
  a.momentum = b.momentum = momentum;
  Tensor p = ones({2}, DType::f64).set_requires_grad();
  Tensor q = ones({3}, DType::f64).set_requires_grad();
  return std::make_unique<SGD>(
      std::vector<ParamGroup<SGDOptions>>{ParamGroup<SGDOptions>({p}, a),
                                          ParamGroup<SGDOptions>({q}, b)});
}

// The lr of every group at epoch 0 (after construction) and after each of `steps` steps.
std::vector<Vec> record(LRScheduler& s, int steps) {
  std::vector<Vec> out{s.get_last_lr()};
  for (int i = 0; i < steps; ++i) {
    s.step();
    out.push_back(s.get_last_lr());
  }
  return out;
}

// Per group, from each base lr, by a rule lr_e = f(e, lr_{e-1}, base).
template <class F>
std::vector<Vec> expect(const Vec& bases, int steps, F&& rule) {
  std::vector<Vec> out(size_t(steps) + 1, Vec(bases.size()));
  for (size_t g = 0; g < bases.size(); ++g) {
    double lr = bases[g];
    for (int e = 0; e <= steps; ++e) {
      lr = rule(e, lr, bases[g]);
      out[size_t(e)][g] = lr;
    }
  }
  return out;
}

void check_lrs(const std::vector<Vec>& got, const std::vector<Vec>& want, double tol = 0.0) {
  REQUIRE(got.size() == want.size());
  for (size_t e = 0; e < got.size(); ++e) {
    REQUIRE(got[e].size() == want[e].size());
    for (size_t g = 0; g < got[e].size(); ++g) {
      INFO("epoch ", e, " group ", g, ": got ", got[e][g], ", want ", want[e][g]);
      CHECK(std::abs(got[e][g] - want[e][g]) <= tol);
    }
  }
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// PyTorch's recursive cosine step from lr_{e-1} to lr_e (e >= 1).
double cosine_step(int e, double lr, double base, double eta_min, int t_max) {
  if ((((e - 1 - t_max) % (2 * t_max)) + 2 * t_max) % (2 * t_max) == 0)
    return lr + (base - eta_min) * (1 - std::cos(kPi / t_max)) / 2;
  return (1 + std::cos(kPi * e / t_max)) / (1 + std::cos(kPi * (e - 1) / t_max)) *
             (lr - eta_min) +
         eta_min;
}

}  // namespace

TEST_CASE("sched: StepLR decays recursively every step_size epochs") {
  auto opt = sgd_two_groups(0.1, 0.02);
  StepLR s(*opt, 3, 0.5);
  CHECK(opt->initial_lr(0) == 0.1);
  auto want = expect({0.1, 0.02}, 10, [](int e, double lr, double) {
    return e > 0 && e % 3 == 0 ? lr * 0.5 : lr;
  });
  check_lrs(record(s, 10), want);
  CHECK(s.get_last_lr()[0] == 0.0125);
  CHECK(opt->lr(1) == s.get_last_lr()[1]);

  // gamma 0.1: the recursive product, as PyTorch prints it, not the decimal 0.01.
  auto opt2 = sgd_two_groups(0.1, 0.1);
  StepLR t(*opt2, 2);
  t.step();
  t.step();
  CHECK(t.get_last_lr()[0] == 0.010000000000000002);
}

TEST_CASE("sched: MultiStepLR applies gamma per milestone, repeated ones compounding") {
  auto opt = sgd_two_groups(0.1, 0.3);
  MultiStepLR s(*opt, {5, 2, 5}, 0.5);
  auto want = expect({0.1, 0.3}, 9, [](int e, double lr, double) {
    return e == 2 ? lr * 0.5 : e == 5 ? lr * std::pow(0.5, 2.0) : lr;
  });
  check_lrs(record(s, 9), want);
  CHECK(s.get_last_lr()[0] == 0.1 * 0.5 * 0.25);
}

TEST_CASE("sched: ExponentialLR") {
  auto opt = sgd_two_groups(0.1, 0.05);
  ExponentialLR s(*opt, 0.9);
  auto want = expect({0.1, 0.05}, 12, [](int e, double lr, double) {
    return e == 0 ? lr : lr * 0.9;
  });
  check_lrs(record(s, 12), want);
}

TEST_CASE("sched: CosineAnnealingLR follows PyTorch's recursion over 3 periods") {
  const int t_max = 4;
  const double eta_min = 0.001;
  auto opt = sgd_two_groups(0.1, 0.02);
  CosineAnnealingLR s(*opt, t_max, eta_min);
  auto want = expect({0.1, 0.02}, 3 * t_max, [&](int e, double lr, double base) {
    return e == 0 ? lr : cosine_step(e, lr, base, eta_min, t_max);
  });
  std::vector<Vec> got = record(s, 3 * t_max);
  check_lrs(got, want);
  // The recursion stays within rounding of the closed form, through the minimum and back up.
  for (int e = 0; e <= 3 * t_max; ++e) {
    double closed = eta_min + (0.1 - eta_min) * (1 + std::cos(kPi * e / t_max)) / 2;
    CHECK(got[size_t(e)][0] == doctest::Approx(closed).epsilon(1e-12));
  }
  CHECK(got[t_max][0] == doctest::Approx(eta_min).epsilon(1e-12));
  CHECK(got[2 * t_max][0] == doctest::Approx(0.1).epsilon(1e-12));
}

TEST_CASE("sched: LinearLR ramps the factor, then holds") {
  auto opt = sgd_two_groups(0.2, 0.04);
  LinearLR s(*opt, 0.25, 1.0, 4);
  auto want = expect({0.2, 0.04}, 8, [](int e, double lr, double) {
    if (e == 0) return lr * 0.25;
    if (e > 4) return lr;
    return lr * (1.0 + 0.75 / (4 * 0.25 + (e - 1) * 0.75));
  });
  std::vector<Vec> got = record(s, 8);
  check_lrs(got, want);
  CHECK(got[4][0] == doctest::Approx(0.2).epsilon(1e-15));
  CHECK(contains(error_of([&] { LinearLR bad(*opt, 0.0); }), "starting multiplicative factor"));
}

TEST_CASE("sched: linear warm-up composed with cosine annealing") {
  const int warmup = 3, t_max = 6;
  auto opt = sgd_two_groups(0.1, 0.01);
  auto s = linear_warmup(*opt, warmup, 0.1, std::make_unique<CosineAnnealingLR>(*opt, t_max));
  const int steps = warmup + 2 * t_max;
  auto want = expect({0.1, 0.01}, steps, [&](int e, double lr, double base) {
    if (e == 0) return base * 0.1;
    if (e < warmup) return lr * (1.0 + (1.0 - 0.1) / (warmup * 0.1 + (e - 1) * (1.0 - 0.1)));
    if (e == warmup) return 0.0 + (base - 0.0) * (1 + std::cos(kPi * 0 / t_max)) / 2;
    return cosine_step(e - warmup, lr, base, 0.0, t_max);
  });
  std::vector<Vec> got = record(*s, steps);
  check_lrs(got, want);
  CHECK(got[warmup][0] == 0.1);
  CHECK(got[warmup + t_max][0] == doctest::Approx(0.0).epsilon(1e-15));
}

TEST_CASE("sched: SequentialLR over three schedules") {
  auto opt = sgd_two_groups(0.1, 0.2);
  std::vector<std::unique_ptr<LRScheduler>> list;
  list.push_back(std::make_unique<LinearLR>(*opt, 0.5, 1.0, 2));
  list.push_back(std::make_unique<StepLR>(*opt, 2, 0.5));
  list.push_back(std::make_unique<ExponentialLR>(*opt, 0.9));
  SequentialLR s(*opt, std::move(list), {2, 5});
  auto want = expect({0.1, 0.2}, 9, [](int e, double lr, double base) {
    if (e == 0) return lr * 0.5;
    if (e < 2) return lr * (1.0 + 0.5 / (2 * 0.5 + (e - 1) * 0.5));
    if (e == 2) return base * std::pow(0.5, 0.0);  // StepLR's closed form at its epoch 0
    if (e < 5) return (e - 2) % 2 == 0 ? lr * 0.5 : lr;
    if (e == 5) return base * std::pow(0.9, 0.0);
    return lr * 0.9;
  });
  check_lrs(record(s, 9), want);

  auto other = sgd_two_groups(0.1, 0.2);
  std::vector<std::unique_ptr<LRScheduler>> wrong;
  wrong.push_back(std::make_unique<StepLR>(*other, 2));
  wrong.push_back(std::make_unique<StepLR>(*opt, 2));
  CHECK(contains(error_of([&] { SequentialLR bad(*opt, std::move(wrong), {3}); }),
                 "another optimizer"));
  std::vector<std::unique_ptr<LRScheduler>> two;
  two.push_back(std::make_unique<StepLR>(*opt, 2));
  two.push_back(std::make_unique<StepLR>(*opt, 2));
  CHECK(contains(error_of([&] { SequentialLR bad(*opt, std::move(two), {}); }), "milestone"));
}

namespace {
double anneal_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
}
}  // namespace

TEST_CASE("sched: OneCycleLR lr and momentum over the cycle") {
  auto opt = sgd_two_groups(0.5, 0.5, 0.9);
  OneCycleLROptions o;
  o.max_lr = {0.1, 0.2};
  o.total_steps = 10;
  OneCycleLR s(*opt, o);
  CHECK(opt->initial_lr(0) == 0.1 / 25);
  const double up_end = 0.3 * 10 - 1, down_end = 9;
  std::vector<Vec> got{s.get_last_lr()};
  std::vector<double> momenta{opt->hyper(0, "momentum")};
  for (int i = 0; i < 10; ++i) {
    s.step();
    got.push_back(s.get_last_lr());
    momenta.push_back(opt->hyper(0, "momentum"));
  }
  std::vector<Vec> want;
  for (int e = 0; e <= 10; ++e) {
    Vec row;
    for (double max_lr : {0.1, 0.2}) {
      double initial = max_lr / 25.0, min_lr = initial / 1e4;
      row.push_back(e <= up_end ? anneal_cos(initial, max_lr, e / up_end)
                                : anneal_cos(max_lr, min_lr, (e - up_end) / (down_end - up_end)));
    }
    want.push_back(row);
    double m = e <= up_end ? anneal_cos(0.95, 0.85, e / up_end)
                           : anneal_cos(0.85, 0.95, (e - up_end) / (down_end - up_end));
    CHECK(momenta[size_t(e)] == m);
  }
  check_lrs(got, want);
  CHECK(got[2][0] == 0.1);
  CHECK(got[9][0] == doctest::Approx(0.1 / 25 / 1e4).epsilon(1e-12));
  CHECK(contains(error_of([&] { s.step(); }), "total steps is 10"));
}

TEST_CASE("sched: OneCycleLR cycles Adam's beta1 - SGD without momentum gets one, as PyTorch") {
  Tensor p = ones({2}).set_requires_grad();
  Adam adam(std::vector<Tensor>{p});
  OneCycleLROptions o;
  o.max_lr = {0.01};
  o.epochs = 2;
  o.steps_per_epoch = 5;
  o.anneal_strategy = AnnealStrategy::linear;
  OneCycleLR s(adam, o);
  CHECK(s.total_steps() == 10);
  CHECK(adam.hyper(0, "beta1") == 0.95);
  CHECK(adam.options(0).beta2 == 0.999);
  s.step();  // pct 0.5 of the first phase (which ends at step 2): linear midpoint
  CHECK(adam.hyper(0, "beta1") == doctest::Approx(0.9).epsilon(1e-15));
  CHECK(s.get_last_lr()[0] == doctest::Approx((0.01 - 0.0004) * 0.5 + 0.0004).epsilon(1e-15));

  auto plain = sgd_two_groups(0.1, 0.1, 0.0);
  o.max_lr = {0.1};
  OneCycleLR t(*plain, o);
  CHECK(plain->hyper(1, "momentum") == 0.95);
  o.cycle_momentum = false;
  auto none = sgd_two_groups(0.1, 0.1, 0.0);
  OneCycleLR u(*none, o);
  CHECK(none->hyper(0, "momentum") == 0.0);

  o.total_steps = 0, o.epochs = 0;
  CHECK(contains(error_of([&] { OneCycleLR bad(*none, o); }), "total_steps"));
}

TEST_CASE("sched: OneCycleLR three-phase schedule") {
  auto opt = sgd_two_groups(0.1, 0.1, 0.9);
  OneCycleLROptions o;
  o.max_lr = {1.0};
  o.total_steps = 20;
  o.pct_start = 0.25;
  o.three_phase = true;
  OneCycleLR s(*opt, o);
  std::vector<Vec> got = record(s, 20);
  const double e1 = 0.25 * 20 - 1, e2 = 2 * 0.25 * 20 - 2, e3 = 19;
  for (int e = 0; e <= 20; ++e) {
    double want = e <= e1   ? anneal_cos(0.04, 1.0, e / e1)
                  : e <= e2 ? anneal_cos(1.0, 0.04, (e - e1) / (e2 - e1))
                            : anneal_cos(0.04, 0.04 / 1e4, (e - e2) / (e3 - e2));
    CHECK(got[size_t(e)][0] == want);
  }
}

TEST_CASE("sched: ReduceLROnPlateau patience, cooldown, min_lr") {
  auto opt = sgd_two_groups(1.0, 0.4);
  ReduceLROnPlateauOptions o;
  o.patience = 2;
  o.factor = 0.5;
  o.cooldown = 1;
  o.min_lr = {0.2, 0.0};
  ReduceLROnPlateau s(*opt, o);
  const Vec metrics = {10, 9, 9.5, 9.2, 9.1, 9.0, 8.0, 8.5, 8.6,
                       8.7, 8.8, 8.9, 9.0, 9.1, 9.2, 9.3, 9.4, 9.5};
  const Vec want0 = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5,
                     0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2};
  for (size_t i = 0; i < metrics.size(); ++i) {
    s.step(metrics[i]);
    INFO("epoch ", i + 1);
    CHECK(opt->lr(0) == want0[i]);
    CHECK(s.get_last_lr()[0] == want0[i]);
  }
  CHECK(opt->lr(1) == 0.4 * 0.5 * 0.5 * 0.5 * 0.5);  // no floor: a fourth reduction
  CHECK(s.best() == 8.0);
  CHECK(s.last_epoch() == 18);
}

TEST_CASE("sched: ReduceLROnPlateau max mode, absolute threshold, eps") {
  auto opt = sgd_two_groups(1.0, 1e-8);
  ReduceLROnPlateauOptions o;
  o.mode = ReduceLROnPlateauOptions::Mode::max;
  o.threshold_mode = ReduceLROnPlateauOptions::ThresholdMode::abs;
  o.threshold = 0.1;
  o.patience = 0;
  ReduceLROnPlateau s(*opt, o);
  s.step(1.0);   // first: better than -inf
  s.step(1.05);  // not better by more than 0.1: reduce at once (patience 0)
  CHECK(opt->lr(0) == 0.1);
  CHECK(opt->lr(1) == 1e-8);  // 1e-8 -> 1e-9 changes by less than eps: skipped
  s.step(1.2);                // better
  CHECK(opt->lr(0) == 0.1);
  CHECK(s.num_bad_epochs() == 0);
  o.factor = 1.0;
  CHECK(contains(error_of([&] { ReduceLROnPlateau bad(*opt, o); }), "factor"));
}

TEST_CASE("sched: state round trip resumes the same lrs") {
  auto build = [](SGD& opt) {
    return linear_warmup(opt, 2, 0.2, std::make_unique<CosineAnnealingLR>(opt, 5, 0.001));
  };
  auto whole_opt = sgd_two_groups(0.1, 0.02);
  auto whole = build(*whole_opt);
  std::vector<Vec> full = record(*whole, 12);

  auto first_opt = sgd_two_groups(0.1, 0.02);
  auto first = build(*first_opt);
  record(*first, 5);
  NamedTensors opt_state = first_opt->state_dict(), sched_state = first->state_dict();

  auto second_opt = sgd_two_groups(0.7, 0.7);  // built differently; the states replace it
  auto second = build(*second_opt);
  second_opt->load_state_dict(opt_state);
  second->load_state_dict(sched_state);
  CHECK(second->get_last_lr() == full[5]);
  std::vector<Vec> rest = record(*second, 7);
  for (size_t i = 0; i < rest.size(); ++i) CHECK(rest[i] == full[5 + i]);

  // OneCycleLR's momentum lives in the optimizer's state.
  OneCycleLROptions o;
  o.max_lr = {0.1};
  o.total_steps = 12;
  auto a_opt = sgd_two_groups(0.1, 0.1, 0.9);
  OneCycleLR a(*a_opt, o);
  record(a, 4);
  auto b_opt = sgd_two_groups(0.1, 0.1, 0.9);
  OneCycleLR b(*b_opt, o);
  b_opt->load_state_dict(a_opt->state_dict());
  b.load_state_dict(a.state_dict());
  for (int i = 0; i < 8; ++i) {
    a.step();
    b.step();
    CHECK(a.get_last_lr() == b.get_last_lr());
    CHECK(a_opt->hyper(0, "momentum") == b_opt->hyper(0, "momentum"));
  }

  // ReduceLROnPlateau.
  auto c_opt = sgd_two_groups(1.0, 1.0);
  ReduceLROnPlateauOptions ro;
  ro.patience = 1;
  ReduceLROnPlateau c(*c_opt, ro);
  for (double m : {3.0, 2.0, 2.5}) c.step(m);
  auto d_opt = sgd_two_groups(1.0, 1.0);
  ReduceLROnPlateau d(*d_opt, ro);
  d.load_state_dict(c.state_dict());
  CHECK(d.best() == 2.0);
  CHECK(d.num_bad_epochs() == 1);
  c.step(2.6);
  d.step(2.6);
  CHECK(c_opt->lr(0) == 0.1);
  CHECK(d_opt->lr(0) == 0.1);
  CHECK(d.num_bad_epochs() == c.num_bad_epochs());
}

TEST_CASE("sched: load_state_dict refuses foreign or broken states") {
  auto opt = sgd_two_groups(0.1, 0.1);
  StepLR step(*opt, 3);
  CosineAnnealingLR cosine(*opt, 5);
  CHECK(contains(error_of([&] { step.load_state_dict(cosine.state_dict()); }), "StepLR"));
  NamedTensors sd = step.state_dict();
  NamedTensors missing(sd.begin() + 1, sd.end());
  CHECK(contains(error_of([&] { step.load_state_dict(missing); }), "missing key 'last_epoch'"));

  Tensor p = ones({1}).set_requires_grad();
  SGD one_group({p}, SGDOptions{});
  StepLR other(one_group, 3);
  CHECK(contains(error_of([&] { other.load_state_dict(sd); }), "base_lrs"));
  CHECK(contains(error_of([&] { StepLR bad(*opt, 0); }), "step_size"));
  CHECK(contains(error_of([&] { CosineAnnealingLR bad(*opt, 0); }), "T_max"));
}
