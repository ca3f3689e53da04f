// Gradient clipping and the loss scaler (GradScaler).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/ops.h"
#include "optim/optim.h"
#include "tests/optim_test_util.h"

using namespace whet;
using namespace whet::optim;
using namespace optim_test;

TEST_CASE("optim: clip_grad_norm_ with the 2-norm and the inf-norm") {
  auto setup = [](Tensor& a, Tensor& b, Tensor& c) {
    a = make_param({3, 4});
    b = make_param({1, 2, 2});
    c = make_param({9});  // no gradient: ignored
    a.set_grad(Tensor::from_vector<double>({3, -4}, {2}));
    b.set_grad(Tensor::from_vector<double>({0, 12, 0}, {3}));
  };
  Tensor a, b, c;
  setup(a, b, c);
  // ‖(5, 12)‖ = 13
  Tensor total = clip_grad_norm_({a, b, c}, 6.5);
  CHECK(total.dim() == 0);
  CHECK(total.item() == doctest::Approx(13.0).epsilon(1e-15));
  double coef = 1.0 / (13.0 + 1e-6) * 6.5;
  check_close(a.grad().to_vector<double>(), {3 * coef, -4 * coef});
  check_close(b.grad().to_vector<double>(), {0, 12 * coef, 0});
  CHECK_FALSE(c.grad().defined());

  setup(a, b, c);
  Tensor g = a.grad();
  total = clip_grad_norm_({a, b, c}, 100.0);  // under the limit: unchanged
  CHECK(total.item() == doctest::Approx(13.0));
  CHECK(a.grad().to_vector<double>() == Vec{3, -4});
  CHECK(a.grad().same_storage(g));  // clipped in place, as PyTorch's mul_

  setup(a, b, c);
  total = clip_grad_norm_({a, b, c}, 3.0, kInfNorm);
  CHECK(total.item() == 12.0);
  coef = 1.0 / (12.0 + 1e-6) * 3.0;
  check_close(a.grad().to_vector<double>(), {3 * coef, -4 * coef});
  check_close(b.grad().to_vector<double>(), {0, 12 * coef, 0});

  setup(a, b, c);
  total = clip_grad_norm_({a, b}, 1.0, 1.0);  // 7 + 12
  CHECK(total.item() == doctest::Approx(19.0));

  CHECK(clip_grad_norm_({c}, 1.0).item() == 0.0);  // nothing to clip

  setup(a, b, c);
  b.set_grad(Tensor::from_vector<double>({0, std::numeric_limits<double>::infinity(), 0}, {3}));
  CHECK(contains(error_of([&] { clip_grad_norm_({a, b}, 1.0, 2.0, true); }), "non-finite"));
  CHECK(contains(error_of([&] { clip_grad_norm_({a, b}, 1.0, -1.0); }), "norm_type"));
}

TEST_CASE("optim: clip_grad_norm_ on float32 gradients") {
  Tensor a = make_param({1, 1}, DType::f32);
  a.set_grad(Tensor::from_vector<float>({30, 40}, {2}));
  Tensor total = clip_grad_norm_({a}, 5.0);
  CHECK(total.dtype() == DType::f32);
  CHECK(total.item() == 50.0);
  float coef = 1.0f / (50.0f + 1e-6f) * 5.0f;
  CHECK(a.grad().to_vector<float>() == std::vector<float>{30 * coef, 40 * coef});
}

TEST_CASE("optim: clip_grad_value_ clamps in place") {
  Tensor a = make_param({0, 0, 0, 0});
  a.set_grad(Tensor::from_vector<double>({-5, -0.5, 0.25, 7}, {4}));
  Tensor b = make_param({0});
  clip_grad_value_({a, b}, 1.0);
  CHECK(a.grad().to_vector<double>() == Vec{-1, -0.5, 0.25, 1});
  CHECK_FALSE(b.grad().defined());
}

// ---- loss scaler ----

namespace {
// loss = sum(w (p - t)^2) on a fresh graph; its gradient is quad_grad(p).
Tensor quad_loss(const Tensor& p) {
  Tensor t = Tensor::from_vector<double>(kTarget, {3}, p.dtype());
  Tensor w = Tensor::from_vector<double>(kWeight, {3}, p.dtype());
  Tensor d = p - t;
  return sum(w * d * d);
}
}  // namespace

TEST_CASE("scaler: scale multiplies, unscale_ divides, a clean step steps") {
  Tensor p = make_param(kStart, DType::f32);
  SGDOptions o;
  o.lr = 0.1;
  SGD opt({p}, o);
  GradScaler scaler;
  CHECK(scaler.get_scale() == 65536.0);
  Tensor loss = quad_loss(p);
  Tensor scaled = scaler.scale(loss);
  CHECK(scaled.item() == loss.item() * 65536.0);
  scaled.backward();
  Vec want = quad_grad(kStart);
  check_close(p.grad().to_vector<double>(), {want[0] * 65536, want[1] * 65536, want[2] * 65536},
              1e-6);
  scaler.unscale_(opt);
  check_close(p.grad().to_vector<double>(), want, 1e-6);
  CHECK(scaler.found_inf(opt).item() == 0.0);
  scaler.step(opt);
  CHECK(scaler.found_inf(opt).item() == 0.0);
  scaler.update();
  CHECK(scaler.growth_tracker() == 1);
  CHECK(scaler.get_scale() == 65536.0);
  Vec q = kStart;
  for (size_t i = 0; i < q.size(); ++i) q[i] -= 0.1 * want[i];  // plain SGD, lr 0.1
  check_close(p.to_vector<double>(), q, 1e-6);
}

TEST_CASE("scaler: an inf or NaN gradient skips the step and backs off") {
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    CAPTURE(bad);
    Tensor p = make_param();
    AdamOptions o;
    o.lr = 0.1;
    Adam opt({p}, o);
    GradScalerOptions so;
    so.growth_interval = 3;
    GradScaler scaler(so);
    // One clean step so the optimizer has state to protect.
    opt.zero_grad();
    scaler.scale(quad_loss(p)).backward();
    scaler.step(opt);
    CHECK(scaler.found_inf(opt).item() == 0.0);
    scaler.update();
    CHECK(scaler.growth_tracker() == 1);
    Vec params_before = p.to_vector<double>();
    NamedTensors state_before;  // a snapshot: state_dict() holds the live state
    for (const auto& [k, t] : opt.state_dict()) state_before.emplace_back(k, t.clone());

    opt.zero_grad();
    scaler.scale(quad_loss(p)).backward();
    Tensor g = p.grad();
    Tensor poisoned = g.clone();
    poisoned.copy_(Tensor::from_vector<double>({1.0, bad, 2.0}, {3}));
    p.set_grad(poisoned);
    scaler.step(opt);
    CHECK(scaler.found_inf(opt).item() == 1.0);
    CHECK(p.to_vector<double>() == params_before);
    CHECK(same_state(opt.state_dict(), state_before));
    scaler.update();
    CHECK(scaler.get_scale() == 32768.0);
    CHECK(scaler.growth_tracker() == 0);
  }
}

TEST_CASE("scaler: the scale grows after growth_interval clean steps") {
  Tensor p = make_param();
  SGD opt({p}, SGDOptions{});
  GradScalerOptions so;
  so.init_scale = 8.0;
  so.growth_interval = 3;
  GradScaler scaler(so);
  std::vector<double> scales;
  for (int s = 0; s < 7; ++s) {
    opt.zero_grad();
    scaler.scale(quad_loss(p)).backward();
    scaler.step(opt);
    CHECK(scaler.found_inf(opt).item() == 0.0);
    scaler.update();
    scales.push_back(scaler.get_scale());
  }
  CHECK(scales == std::vector<double>{8, 8, 16, 16, 16, 32, 32});
  CHECK(scaler.growth_tracker() == 1);
  scaler.update(4.0);
  CHECK(scaler.get_scale() == 4.0);
}

TEST_CASE("scaler: misuse throws") {
  Tensor p = make_param();
  SGD opt({p}, SGDOptions{});
  GradScaler scaler;
  CHECK(contains(error_of([&] { scaler.unscale_(opt); }), "scale(loss)"));
  scaler.scale(quad_loss(p)).backward();
  CHECK(contains(error_of([&] { scaler.update(); }), "no inf checks"));
  scaler.unscale_(opt);
  CHECK(contains(error_of([&] { scaler.unscale_(opt); }), "already been called"));
  scaler.step(opt);
  CHECK(contains(error_of([&] { scaler.step(opt); }), "already been called"));
  CHECK(contains(error_of([&] { scaler.unscale_(opt); }), "after step()"));
  scaler.update();
  GradScalerOptions bad;
  bad.growth_factor = 0.5;
  CHECK(contains(error_of([&] { GradScaler s(bad); }), "growth factor"));
}

TEST_CASE("scaler: state_dict round trip") {
  Tensor p = make_param();
  SGD opt({p}, SGDOptions{});
  GradScalerOptions so;
  so.growth_interval = 5;
  GradScaler scaler(so);
  for (int s = 0; s < 3; ++s) {
    opt.zero_grad();
    scaler.scale(quad_loss(p)).backward();
    scaler.step(opt);
    scaler.update();
  }
  NamedTensors sd = scaler.state_dict();
  GradScaler fresh;
  fresh.load_state_dict(sd);
  CHECK(fresh.get_scale() == scaler.get_scale());
  CHECK(fresh.growth_tracker() == 3);
  CHECK(same_state(fresh.state_dict(), sd));
  // Two more clean steps reach the interval of 5 in both.
  for (GradScaler* s : {&scaler, &fresh})
    for (int k = 0; k < 2; ++k) {
      opt.zero_grad();
      s->scale(quad_loss(p)).backward();
      s->step(opt);
      s->update();
    }
  CHECK(fresh.get_scale() == 131072.0);
  CHECK(scaler.get_scale() == 131072.0);

  NamedTensors broken = sd;
  broken.pop_back();
  CHECK(contains(error_of([&] { fresh.load_state_dict(broken); }), "missing key"));
  CHECK(contains(error_of([&] { fresh.load_state_dict({}); }), "empty"));
}

TEST_CASE("scaler: a disabled scaler passes everything through") {
  Tensor p = make_param();
  SGD opt({p}, SGDOptions{});
  GradScalerOptions so;
  so.enabled = false;
  GradScaler scaler(so);
  Tensor loss = quad_loss(p);
  CHECK(scaler.scale(loss).item() == loss.item());
  scaler.scale(loss).backward();
  Vec before = p.to_vector<double>();
  scaler.step(opt);
  CHECK(p.to_vector<double>() != before);
  CHECK_FALSE(scaler.found_inf(opt).defined());
  scaler.update();
  CHECK(scaler.get_scale() == 1.0);
  CHECK(scaler.state_dict().empty());
}
