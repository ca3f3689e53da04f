// Optimizers (clipping and the loss scaler: test_clip_scaler.cpp). Trajectories are checked against scalar
// references written here in plain double arithmetic from PyTorch's documented update rules.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/autograd.h"
#include "core/ops.h"
#include "optim/optim.h"
#include "tests/optim_test_util.h"

using namespace whet;
using namespace whet::optim;

using namespace optim_test;

namespace {

// Runs `steps` steps of `opt` on p (quadratic gradients) and of `ref` on a double copy.
void run_against(Optimizer& opt, const Tensor& p, const std::function<void(Vec&, const Vec&)>& ref,
                 int steps, double rtol = 1e-13) {
  Vec q = p.to_vector<double>();
  for (int s = 0; s < steps; ++s) {
    set_quad_grad(p);
    opt.step();
    ref(q, quad_grad(q));
    INFO("after step ", s + 1);
    check_close(p.to_vector<double>(), q, rtol);
  }
}

// ---- scalar references (torch.optim documentation's algorithms) ----

struct SgdRef {
  explicit SgdRef(double lr_, double momentum_ = 0, double dampening_ = 0, double wd_ = 0,
                  bool nesterov_ = false, bool maximize_ = false)
      : lr(lr_), momentum(momentum_), dampening(dampening_), wd(wd_), nesterov(nesterov_),
        maximize(maximize_) {}
  double lr, momentum, dampening, wd;
  bool nesterov, maximize;
  Vec buf;
  void operator()(Vec& p, const Vec& grad) {
    bool first = buf.empty();
    if (first) buf.assign(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = maximize ? -grad[i] : grad[i];
      if (wd != 0) g = g + wd * p[i];
      if (momentum != 0) {
        buf[i] = first ? g : momentum * buf[i] + (1 - dampening) * g;
        g = nesterov ? g + momentum * buf[i] : buf[i];
      }
      p[i] = p[i] - lr * g;
    }
  }
};

struct AdamRef {
  double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0;
  bool amsgrad = false, decoupled = false, maximize = false;
  Vec m, v, vmax;
  int t = 0;
  void operator()(Vec& p, const Vec& grad) {
    if (m.empty()) m.assign(p.size(), 0), v.assign(p.size(), 0), vmax.assign(p.size(), 0);
    ++t;
    double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = maximize ? -grad[i] : grad[i];
      if (wd != 0) {
        if (decoupled) p[i] = p[i] * (1 - lr * wd);
        else g = g + wd * p[i];
      }
      m[i] = m[i] + (1 - b1) * (g - m[i]);
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      double denom = std::sqrt(amsgrad ? vmax[i] : v[i]) / std::sqrt(bc2) + eps;
      p[i] = p[i] - (lr / bc1) * m[i] / denom;
    }
  }
};

struct RmsRef {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, wd = 0, momentum = 0;
  bool centered = false;
  Vec sq, ga, buf;
  void operator()(Vec& p, const Vec& grad) {
    if (sq.empty()) sq.assign(p.size(), 0), ga.assign(p.size(), 0), buf.assign(p.size(), 0);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (wd != 0) g = g + wd * p[i];
      sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
      double var = sq[i];
      if (centered) {
        ga[i] = ga[i] + (1 - alpha) * (g - ga[i]);
        var = var - ga[i] * ga[i];
      }
      double avg = std::sqrt(var) + eps;
      if (momentum > 0) {
        buf[i] = momentum * buf[i] + g / avg;
        p[i] = p[i] - lr * buf[i];
      } else {
        p[i] = p[i] - lr * g / avg;
      }
    }
  }
};

}  // namespace

// ---- defaults and options ----

TEST_CASE("optim: defaults match PyTorch") {
  SGDOptions s;
  CHECK(s.lr == 1e-3);
  CHECK(s.momentum == 0);
  AdamOptions a;
  CHECK(a.lr == 1e-3);
  CHECK(a.beta1 == 0.9);
  CHECK(a.beta2 == 0.999);
  CHECK(a.eps == 1e-8);
  CHECK(a.weight_decay == 0);
  AdamWOptions w;
  CHECK(w.weight_decay == 1e-2);
  CHECK(w.decoupled_weight_decay);
  RMSpropOptions r;
  CHECK(r.lr == 1e-2);
  CHECK(r.alpha == 0.99);
  CHECK(r.eps == 1e-8);
  GradScalerOptions g;
  CHECK(g.init_scale == 65536.0);
  CHECK(g.growth_factor == 2.0);
  CHECK(g.backoff_factor == 0.5);
  CHECK(g.growth_interval == 2000);
}

// ---- trajectories ----

TEST_CASE("optim: SGD variants follow the scalar reference") {
  struct Case {
    const char* name;
    SGDOptions o;
  };
  auto opts = [](double lr, double m, double d, double wd, bool nest, bool max) {
    SGDOptions o;
    o.lr = lr, o.momentum = m, o.dampening = d, o.weight_decay = wd, o.nesterov = nest;
    o.maximize = max;
    return o;
  };
  for (const Case& c : {Case{"plain", opts(0.1, 0, 0, 0, false, false)},
                        Case{"momentum", opts(0.1, 0.9, 0, 0, false, false)},
                        Case{"dampening", opts(0.05, 0.8, 0.3, 0, false, false)},
                        Case{"nesterov", opts(0.1, 0.9, 0, 0, true, false)},
                        Case{"weight decay", opts(0.1, 0.9, 0, 0.05, false, false)},
                        Case{"nesterov + decay", opts(0.02, 0.7, 0, 0.1, true, false)},
                        Case{"maximize", opts(0.01, 0.5, 0, 0.01, false, true)}}) {
    CAPTURE(c.name);
    Tensor p = make_param();
    SGD opt({p}, c.o);
    SgdRef ref{c.o.lr, c.o.momentum, c.o.dampening, c.o.weight_decay, c.o.nesterov, c.o.maximize};
    run_against(opt, p, std::ref(ref), 3);
    CHECK((opt.state(0, 0).find("momentum_buffer") != nullptr) == (c.o.momentum != 0));
  }
}

TEST_CASE("optim: Adam with and without amsgrad and weight decay") {
  for (bool amsgrad : {false, true})
    for (double wd : {0.0, 0.1})
      for (bool maximize : {false, true}) {
        CAPTURE(amsgrad);
        CAPTURE(wd);
        CAPTURE(maximize);
        AdamOptions o;
        o.lr = 0.1, o.weight_decay = wd, o.amsgrad = amsgrad, o.maximize = maximize;
        o.beta1 = 0.8, o.beta2 = 0.9;  // moves the second moment enough for amsgrad to bite
        Tensor p = make_param();
        Adam opt({p}, o);
        AdamRef ref;
        ref.lr = 0.1, ref.wd = wd, ref.amsgrad = amsgrad, ref.b1 = 0.8, ref.b2 = 0.9;
        ref.maximize = maximize;
        run_against(opt, p, std::ref(ref), 3, 1e-12);
        CHECK(opt.state(0, 0).steps() == 3);
        CHECK((opt.state(0, 0).find("max_exp_avg_sq") != nullptr) == amsgrad);
      }
}

TEST_CASE("optim: Adam default hyper-parameters over three steps") {
  Tensor p = make_param();
  Adam opt(std::vector<Tensor>{p});
  AdamRef ref;
  run_against(opt, p, std::ref(ref), 3, 1e-12);
}

TEST_CASE("optim: AdamW decays decoupled from the gradient") {
  for (bool amsgrad : {false, true}) {
    CAPTURE(amsgrad);
    AdamWOptions o;
    o.lr = 0.05, o.weight_decay = 0.2, o.amsgrad = amsgrad;
    Tensor p = make_param();
    AdamW opt({p}, o);
    CHECK(opt.name() == "AdamW");
    AdamRef ref;
    ref.lr = 0.05, ref.wd = 0.2, ref.decoupled = true, ref.amsgrad = amsgrad;
    run_against(opt, p, std::ref(ref), 3, 1e-12);
  }
  // Defaults: weight_decay 1e-2, decoupled.
  Tensor q = make_param();
  AdamW opt(std::vector<Tensor>{q});
  AdamRef ref;
  ref.wd = 1e-2, ref.decoupled = true;
  run_against(opt, q, std::ref(ref), 2, 1e-12);
}

TEST_CASE("optim: RMSprop plain, centered, momentum and weight decay") {
  struct Case {
    const char* name;
    double wd, momentum;
    bool centered;
  };
  for (const Case& c : {Case{"plain", 0, 0, false}, Case{"centered", 0, 0, true},
                        Case{"momentum", 0, 0.9, false}, Case{"weight decay", 0.1, 0, false},
                        Case{"centered + momentum + decay", 0.05, 0.5, true}}) {
    CAPTURE(c.name);
    RMSpropOptions o;
    o.lr = 0.01, o.alpha = 0.9, o.weight_decay = c.wd, o.momentum = c.momentum;
    o.centered = c.centered;
    Tensor p = make_param();
    RMSprop opt({p}, o);
    RmsRef ref;
    ref.lr = 0.01, ref.alpha = 0.9, ref.wd = c.wd, ref.momentum = c.momentum;
    ref.centered = c.centered;
    run_against(opt, p, std::ref(ref), 3, 1e-12);
    const ParamState& st = opt.state(0, 0);
    CHECK(st.steps() == 3);
    CHECK((st.find("grad_avg") != nullptr) == c.centered);
    CHECK((st.find("momentum_buffer") != nullptr) == (c.momentum > 0));
  }
}

TEST_CASE("optim: float32 parameters track the float64 reference - state keeps their dtype") {
  Tensor p = make_param(kStart, DType::f32);
  AdamOptions o;
  o.lr = 0.1;
  Adam opt({p}, o);
  AdamRef ref;
  ref.lr = 0.1;
  run_against(opt, p, std::ref(ref), 3, 1e-5);
  CHECK(opt.state(0, 0).find("exp_avg")->dtype() == DType::f32);
  CHECK(p.dtype() == DType::f32);
}

TEST_CASE("optim: parameter groups keep their own hyper-parameters") {
  Tensor backbone = make_param();
  Tensor head = make_param({0.1, 0.2, 0.3});
  SGDOptions slow, fast;
  slow.lr = 0.01;
  fast.lr = 0.1;
  fast.momentum = 0.9;
  SGD opt({ParamGroup<SGDOptions>({{"backbone.w", backbone}}, slow),
           ParamGroup<SGDOptions>({{"head.w", head}}, fast)});
  CHECK(opt.num_groups() == 2);
  CHECK(opt.num_params() == 2);
  CHECK(opt.param_names(1) == std::vector<std::string>{"head.w"});
  CHECK(opt.lr(0) == 0.01);
  CHECK(opt.lr(1) == 0.1);
  CHECK(opt.options(1).momentum == 0.9);
  SgdRef ref_b{0.01}, ref_h{0.1, 0.9};
  Vec b = backbone.to_vector<double>(), h = head.to_vector<double>();
  for (int s = 0; s < 2; ++s) {
    set_quad_grad(backbone);
    set_quad_grad(head);
    opt.step();
    ref_b(b, quad_grad(b));
    ref_h(h, quad_grad(h));
  }
  check_close(backbone.to_vector<double>(), b);
  check_close(head.to_vector<double>(), h);
  opt.set_lr(0, 0.5);
  CHECK(opt.lr(0) == 0.5);
  CHECK(opt.lr(1) == 0.1);
  CHECK(opt.has_hyper("momentum"));
  CHECK_FALSE(opt.has_hyper("beta1"));
}

TEST_CASE("optim: parameters without a gradient are skipped, bit-identical") {
  Tensor with = make_param();
  Tensor without = make_param({3.0, 4.0, 5.0});
  Tensor frozen = Tensor::from_vector<double>({7.0, 8.0}, {2});  // requires no grad
  Vec before = without.to_vector<double>(), frozen_before = frozen.to_vector<double>();
  AdamOptions o;
  o.weight_decay = 0.1;  // decay must not touch a skipped parameter either
  Adam opt({with, without, frozen}, o);
  set_quad_grad(with);
  opt.step();
  opt.step();
  CHECK(without.to_vector<double>() == before);
  CHECK(frozen.to_vector<double>() == frozen_before);
  CHECK(opt.state(0, 1).empty());
  CHECK(opt.state(0, 2).empty());
  CHECK(opt.state(0, 0).steps() == 2);
  CHECK(with.to_vector<double>() != kStart);
}

TEST_CASE("optim: zero_grad drops or zeroes the gradients") {
  Tensor p = make_param();
  SGD opt({p}, SGDOptions{});
  set_quad_grad(p);
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
  set_quad_grad(p);
  Tensor g = p.grad();
  opt.zero_grad(false);
  REQUIRE(p.grad().defined());
  CHECK(p.grad().same_storage(g));
  CHECK(p.grad().to_vector<double>() == Vec{0, 0, 0});
}

TEST_CASE("optim: a real backward pass feeds the optimizer") {
  Tensor p = make_param();
  Tensor t = Tensor::from_vector<double>(kTarget, {3});
  Tensor w = Tensor::from_vector<double>(kWeight, {3});
  SGDOptions o;
  o.lr = 0.1, o.momentum = 0.9;
  SGD opt({p}, o);
  SgdRef ref{0.1, 0.9};
  Vec q = kStart;
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    Tensor d = p - t;
    sum(w * d * d).backward();
    opt.step();
    ref(q, quad_grad(q));
  }
  check_close(p.to_vector<double>(), q, 1e-12);
}

// ---- state dict ----

namespace {
// N steps, save, load into a fresh optimizer over copies of the parameters, M more steps;
// versus N + M uninterrupted steps. Both must agree bit for bit.
template <class Opt, class Options>
void check_resume(const Options& o, int n, int m) {
  Tensor a = make_param(), b = make_param({-0.5, 0.7, 1.5});
  Opt whole(std::vector<Tensor>{a, b}, o);
  for (int s = 0; s < n + m; ++s) {
    set_quad_grad(a);
    if (s % 2 == 0) set_quad_grad(b);  // b skips some steps: its step count lags
    else b.set_grad(Tensor());
    whole.step();
  }
  Tensor c = make_param(), d = make_param({-0.5, 0.7, 1.5});
  NamedTensors saved;
  Vec c_saved, d_saved;
  {
    Opt first(std::vector<Tensor>{c, d}, o);
    for (int s = 0; s < n; ++s) {
      set_quad_grad(c);
      if (s % 2 == 0) set_quad_grad(d);
      else d.set_grad(Tensor());
      first.step();
    }
    saved = first.state_dict();
  }
  Tensor e = Tensor::from_vector<double>(c.to_vector<double>(), {3}).set_requires_grad();
  Tensor f = Tensor::from_vector<double>(d.to_vector<double>(), {3}).set_requires_grad();
  Options other = o;
  other.lr = 123.0;  // the loaded groups replace this
  Opt second(std::vector<Tensor>{e, f}, other);
  second.load_state_dict(saved);
  CHECK(second.lr(0) == o.lr);
  for (int s = n; s < n + m; ++s) {
    set_quad_grad(e);
    if (s % 2 == 0) set_quad_grad(f);
    else f.set_grad(Tensor());
    second.step();
  }
  CHECK(bit_equal(e, a));
  CHECK(bit_equal(f, b));
  CHECK(same_state(second.state_dict(), whole.state_dict()));
}
}  // namespace

TEST_CASE("optim: state_dict round trip resumes bit-identically") {
  SGDOptions s;
  s.lr = 0.05, s.momentum = 0.9, s.nesterov = true, s.weight_decay = 0.01;
  check_resume<SGD>(s, 3, 3);
  AdamOptions a;
  a.lr = 0.1, a.amsgrad = true, a.weight_decay = 0.01;
  check_resume<Adam>(a, 3, 2);
  AdamWOptions w;
  w.lr = 0.1;
  check_resume<AdamW>(w, 2, 3);
  RMSpropOptions r;
  r.centered = true, r.momentum = 0.5;
  check_resume<RMSprop>(r, 3, 2);
}

TEST_CASE("optim: state_dict layout") {
  Tensor p = make_param(), q = make_param();
  AdamOptions o;
  o.lr = 0.02;
  Adam opt({ParamGroup<AdamOptions>({p}, o), ParamGroup<AdamOptions>({q}, o)});
  set_quad_grad(q);
  opt.step();
  opt.set_initial_lr(1, 0.02);
  NamedTensors sd = opt.state_dict();
  auto find = [&](const std::string& k) -> const Tensor* {
    for (const auto& kv : sd)
      if (kv.first == k) return &kv.second;
    return nullptr;
  };
  REQUIRE(find("group.0.lr"));
  CHECK(find("group.0.lr")->dtype() == DType::f64);
  CHECK(find("group.0.lr")->dim() == 0);
  CHECK(find("group.0.lr")->item() == 0.02);
  CHECK(find("group.1.beta2")->item() == 0.999);
  CHECK(find("group.1.params")->to_vector<int64_t>() == std::vector<int64_t>{1});
  CHECK(find("group.1.initial_lr")->item() == 0.02);
  CHECK(find("group.0.initial_lr") == nullptr);
  CHECK(find("state.0.exp_avg") == nullptr);  // p never stepped
  REQUIRE(find("state.1.step"));
  CHECK(find("state.1.step")->dtype() == DType::f32);
  CHECK(find("state.1.step")->item() == 1);
  CHECK(find("state.1.exp_avg_sq")->shape() == Shape{3});
}

TEST_CASE("optim: load_state_dict refuses mismatched dicts and changes nothing") {
  Tensor p = make_param();
  SGDOptions o;
  o.momentum = 0.9;
  SGD opt({p}, o);
  set_quad_grad(p);
  opt.step();
  NamedTensors good = opt.state_dict();
  NamedTensors before = opt.state_dict();

  NamedTensors bad_shape = good;
  for (auto& kv : bad_shape)
    if (kv.first == "state.0.momentum_buffer") kv.second = zeros({4}, DType::f64);
  CHECK(contains(error_of([&] { opt.load_state_dict(bad_shape); }), "shape"));

  NamedTensors extra = good;
  extra.emplace_back("state.0.exp_avg", zeros({3}, DType::f64));
  CHECK(contains(error_of([&] { opt.load_state_dict(extra); }), "unexpected key"));

  NamedTensors missing;
  for (const auto& kv : good)
    if (kv.first != "group.0.momentum") missing.push_back(kv);
  CHECK(contains(error_of([&] { opt.load_state_dict(missing); }),
                 "missing key 'group.0.momentum'"));

  NamedTensors two_groups = good;
  two_groups.emplace_back("group.1.lr", scalar_f64(0.1));
  CHECK(contains(error_of([&] { opt.load_state_dict(two_groups); }), "parameter group 1"));

  NamedTensors bad_value = good;
  for (auto& kv : bad_value)
    if (kv.first == "group.0.lr") kv.second = scalar_f64(-1);
  CHECK(contains(error_of([&] { opt.load_state_dict(bad_value); }), "learning rate"));

  NamedTensors garbage = good;
  garbage.emplace_back("weights", zeros({1}));
  CHECK(contains(error_of([&] { opt.load_state_dict(garbage); }), "unexpected key 'weights'"));

  Tensor other = make_param({1, 2, 3, 4});
  SGD wrong({other}, o);
  CHECK(contains(error_of([&] { wrong.load_state_dict(good); }), "shape"));

  // An Adam state dict into SGD: foreign hyper-parameters.
  Tensor r = make_param();
  Adam adam(std::vector<Tensor>{r});
  CHECK(contains(error_of([&] { opt.load_state_dict(adam.state_dict()); }), "unexpected key"));

  CHECK(same_state(opt.state_dict(), before));
  // And Adam state missing its second moment.
  set_quad_grad(r);
  adam.step();
  NamedTensors partial;
  for (const auto& kv : adam.state_dict())
    if (kv.first != "state.0.exp_avg_sq") partial.push_back(kv);
  CHECK(contains(error_of([&] { adam.load_state_dict(partial); }),
                 "missing key 'state.0.exp_avg_sq'"));
}

// ---- construction errors ----

TEST_CASE("optim: invalid options and parameters throw whet::Error") {
  Tensor p = make_param();
  SGDOptions s;
  s.lr = -0.1;
  CHECK(contains(error_of([&] { SGD o({p}, s); }), "SGD: invalid learning rate -0.1"));
  s = {};
  s.nesterov = true;
  CHECK(contains(error_of([&] { SGD o({p}, s); }), "Nesterov momentum requires"));
  s = {};
  s.weight_decay = -1;
  CHECK(contains(error_of([&] { SGD o({p}, s); }), "weight_decay"));
  AdamOptions a;
  a.beta1 = 1.0;
  CHECK(contains(error_of([&] { Adam o({p}, a); }), "beta parameter at index 0"));
  a = {};
  a.beta2 = -0.5;
  CHECK(contains(error_of([&] { Adam o({p}, a); }), "beta parameter at index 1"));
  a = {};
  a.lr = -1;
  CHECK(contains(error_of([&] { Adam o({p}, a); }), "invalid learning rate"));
  a = {};
  a.eps = -1;
  CHECK(contains(error_of([&] { Adam o({p}, a); }), "epsilon"));
  RMSpropOptions r;
  r.alpha = -0.5;
  CHECK(contains(error_of([&] { RMSprop o({p}, r); }), "alpha"));
  r = {};
  r.momentum = -0.5;
  CHECK(contains(error_of([&] { RMSprop o({p}, r); }), "momentum"));

  CHECK(contains(error_of([&] { SGD o(std::vector<Tensor>{}); }), "empty parameter list"));
  CHECK(contains(error_of([&] { SGD o({p, p}); }), "appears twice"));
  CHECK(contains(error_of([&] {
          SGD o({ParamGroup<SGDOptions>({p}), ParamGroup<SGDOptions>({p})});
        }),
        "more than one parameter group"));
  Tensor non_leaf = p * 2.0;
  CHECK(contains(error_of([&] { SGD o({non_leaf}); }), "non-leaf"));
  Tensor ints = Tensor::from_vector<int64_t>({1, 2}, {2});
  CHECK(contains(error_of([&] { SGD o({ints}); }), "floating"));

  SGD ok({p}, SGDOptions{});
  CHECK(contains(error_of([&] { ok.set_lr(0, -1); }), "learning rate"));
  CHECK(ok.lr(0) == 1e-3);
  CHECK(contains(error_of([&] { ok.set_hyper(0, "beta1", 0.9); }), "no hyper-parameter"));
  CHECK(contains(error_of([&] { ok.lr(3); }), "no parameter group 3"));
}

// ---- gradient clipping ----

TEST_CASE("optim kernels: the fused slots refuse state of another dtype or size, naming it") {
  const Backend& b = cpu_backend();
  Tensor p = zeros({4}), g = ones({4}), m = zeros({4}), v = zeros({4});
  Tensor step = zeros({}, DType::f32), none;
  AdamStepOptions o;
  Tensor wrong_dtype = zeros({4}, DType::f64), wrong_size = zeros({5});
  CHECK(contains(error_of([&] { b.adam_step(p, g, wrong_dtype, v, none, step, o, none); }),
                 "exp_avg is float64"));
  CHECK(contains(error_of([&] { b.adam_step(p, g, m, wrong_size, none, step, o, none); }),
                 "exp_avg_sq is float32 (5,)"));
  Tensor step64 = zeros({}, DType::f64);
  CHECK(contains(error_of([&] { b.adam_step(p, g, m, v, none, step64, o, none); }),
                 "step must be a one-element float32"));
  o.amsgrad = true;
  CHECK(contains(error_of([&] { b.adam_step(p, g, m, v, none, step, o, none); }),
                 "max_exp_avg_sq is given exactly when amsgrad"));
  SgdStepOptions so;
  so.momentum = 0.9;
  CHECK(contains(error_of([&] { b.sgd_step(p, g, none, false, so, none); }), "momentum_buffer"));
  Tensor flag = zeros({2});
  CHECK(contains(error_of([&] { b.sgd_step(p, g, m, false, so, flag); }), "found_inf must be"));
  // Nothing was written by the refused calls.
  CHECK(p.to_vector<float>() == std::vector<float>(4, 0.0f));
  CHECK(step.item() == 0);
}
