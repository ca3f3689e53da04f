// Fused optimizer updates and loss scaling on CUDA against the CPU kernels
// (kernels/cpu/optim_step.cpp): SGD, Adam/AdamW and RMSprop under each of their options, over
// consecutive steps so the device step counter matters, GradScaler's unscale and scale update,
// and the skip rule (a set found_inf leaves every tensor bit for bit as it was), also when
// amp_unscale sets the flag on the device and the updates read it there. Each state tensor
// starts with the same fresh random values on both sides; the CPU updates its copy in place and
// the device its own.
//
// Both sides avoid fused multiply-adds and round every +, -, *, / and sqrt correctly, so the
// results are compared exactly; Adam alone allows a last-bit slack (adam_tolerance).
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

const DType kOptDTypes[] = {DType::f32, DType::f64};
const Tol kExact{0, 0};

// Adam's bias corrections go through a double pow, where CUDA's and glibc's may differ in the
// last bit; in float32 that can flip the rounding of step_size (and so of every param).
// The absolute term covers parameters the update brings near zero, where one ulp of step_size
// (about 1e-7 of an lr-sized update in float32, 1e-16 in float64) is a large relative error.
Tol adam_tolerance(DType dt) { return dt == DType::f32 ? Tol{1e-6, 1e-9} : Tol{1e-15, 1e-17}; }

// One tensor on both sides, holding the same values before the update.
struct Twin {
  Tensor host, device;
};

Twin twin(const Tensor& host) { return {host, to_gpu(host)}; }
Twin uniform_twin(int64_t n, DType dt, double lo, double hi, uint64_t seed) {
  return twin(uniform_cpu({n}, dt, lo, hi, seed));
}
// A 0-D scalar (found_inf, step, scale: float32; growth_tracker: int64).
Twin scalar_twin(double v, DType dt = DType::f32) { return twin(Tensor::scalar(v, dt)); }

std::string label(const std::string& what, DType dt, int64_t n) {
  return what + " " + dtype_name(dt) + " n=" + std::to_string(n);
}

void check_twin(const std::string& what, const Twin& t, Tol tol) {
  if (t.host.defined()) WHET_CHECK_CLOSE(what, t.device, t.host, tol);
}

// As check_twin where NaN is expected: the NaN positions must be the CPU's, and the finite
// rest meets tol (mismatch() fails on any NaN, so matched NaNs are taken out first).
void check_twin_nan(const std::string& what, const Twin& t, Tol tol) {
  std::vector<double> got = values(t.device), want = values(t.host);
  REQUIRE(got.size() == want.size());
  size_t nan_differs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) {
      ++nan_differs;
    } else if (std::isnan(want[i])) {
      got[i] = want[i] = 0;
    }
  }
  CHECK_MESSAGE(nan_differs == 0,
                what << ": NaN or not at " << nan_differs << " positions where the CPU differs");
  const std::string m = mismatch(got, want, tol);
  CHECK_MESSAGE(m.empty(), what << ": " << m);
}

// Element i of a float32 or float64 host tensor set to x.
void set_element(Tensor& h, int64_t i, double x) {
  if (h.dtype() == DType::f32)
    h.data<float>()[i] = float(x);
  else
    h.data<double>()[i] = x;
}

// `call` throws whet::Error (before launching anything) whose message names the tensor and
// both devices.
template <class F>
void check_device_error(const std::string& what, F&& call, const std::string& name) {
  std::string msg;
  CHECK_THROWS_AS(
      [&] {
        try {
          call();
        } catch (const Error& e) {
          msg = e.what();
          throw;
        }
      }(),
      Error);
  for (const std::string& part : {name, std::string("cpu"), dev().str()})
    CHECK_MESSAGE(msg.find(part) != std::string::npos,
                  what << ": the message \"" << msg << "\" does not name " << part);
}

// The same bytes as `before` (a host copy taken earlier).
void check_unchanged(const std::string& what, const Tensor& before, const Tensor& device) {
  if (!before.defined()) return;
  Tensor after = to_host(device);
  CHECK_MESSAGE(std::memcmp(before.raw_data(), after.raw_data(), before.nbytes()) == 0,
                what << ": changed although found_inf was set");
}

Tensor host_copy(const Twin& t) { return t.device.defined() ? to_host(t.device) : Tensor(); }

// ---- SGD ----

struct SgdCase {
  const char* name;
  SgdStepOptions o;
  bool first_step;
};

std::vector<SgdCase> sgd_cases() {
  std::vector<SgdCase> c;
  SgdStepOptions o;
  o.lr = 0.05;
  c.push_back({"sgd plain", o, false});
  o.momentum = 0.9;
  c.push_back({"sgd momentum first step", o, true});
  c.push_back({"sgd momentum later step", o, false});  // dampening 0: the 1 - 0 = 1 path
  o.dampening = 0.1;
  c.push_back({"sgd momentum later step dampened", o, false});
  o.dampening = 0;
  o.nesterov = true;
  c.push_back({"sgd nesterov", o, false});
  SgdStepOptions wd;
  wd.lr = 0.05;
  wd.weight_decay = 1e-2;
  c.push_back({"sgd weight decay", wd, false});
  wd.momentum = 0.8;
  wd.dampening = 0.3;
  c.push_back({"sgd weight decay momentum first step", wd, true});
  SgdStepOptions mx;
  mx.lr = 0.05;
  mx.maximize = true;
  c.push_back({"sgd maximize", mx, false});
  mx.momentum = 0.9;
  mx.nesterov = true;
  mx.weight_decay = 0.5;
  c.push_back({"sgd maximize nesterov weight decay", mx, false});
  return c;
}

// ---- Adam ----

struct AdamCase {
  const char* name;
  AdamStepOptions o;
  double first_count;  // the step counter before the first update
};

std::vector<AdamCase> adam_cases() {
  std::vector<AdamCase> c;
  AdamStepOptions o;
  o.lr = 1e-2;
  c.push_back({"adam plain", o, 0});
  c.push_back({"adam plain from step 41", o, 41});
  AdamStepOptions a = o;
  a.amsgrad = true;
  c.push_back({"adam amsgrad", a, 0});
  AdamStepOptions w = o;
  w.weight_decay = 1e-2;
  w.decoupled_weight_decay = true;
  c.push_back({"adamw decoupled weight decay", w, 3});
  AdamStepOptions cw = o;
  cw.weight_decay = 1e-2;
  c.push_back({"adam coupled weight decay", cw, 0});
  cw.weight_decay = 1;  // add's alpha = 1: the multiply is skipped
  c.push_back({"adam coupled weight decay 1", cw, 0});
  AdamStepOptions b2 = o;
  b2.beta2 = 0;  // addcmul's value 1 - beta2 = 1: the multiply is skipped
  c.push_back({"adam beta2 0", b2, 2});
  AdamStepOptions all = o;
  all.amsgrad = true;
  all.maximize = true;
  all.weight_decay = 0.1;
  all.decoupled_weight_decay = true;
  all.beta1 = 0.3;  // lerp's weight 0.7 >= 0.5: torch.lerp's other formula
  all.eps = 1e-6;
  c.push_back({"adamw amsgrad maximize beta1 0.3", all, 0});
  return c;
}

// ---- RMSprop ----

struct RmspropCase {
  const char* name;
  RmspropStepOptions o;
};

std::vector<RmspropCase> rmsprop_cases() {
  std::vector<RmspropCase> c;
  RmspropStepOptions o;
  c.push_back({"rmsprop plain", o});
  RmspropStepOptions ce = o;
  ce.centered = true;
  c.push_back({"rmsprop centered", ce});
  RmspropStepOptions m = o;
  m.momentum = 0.9;
  c.push_back({"rmsprop momentum", m});
  RmspropStepOptions wd = o;
  wd.weight_decay = 1e-2;
  c.push_back({"rmsprop weight decay", wd});
  RmspropStepOptions all = o;
  all.centered = true;
  all.momentum = 0.5;
  all.weight_decay = 1;  // the alpha = 1 path of add
  all.maximize = true;
  all.alpha = 0.3;  // lerp's weight 0.7 >= 0.5: torch.lerp's other formula
  c.push_back({"rmsprop centered momentum weight decay maximize alpha 0.3", all});
  return c;
}

}  // namespace

TEST_CASE("cuda: sgd_step matches the CPU") {
  uint64_t seed = 1;
  int run = 0;  // alternates found_inf between undefined and a defined zero
  for (const SgdCase& k : sgd_cases()) {
    for (DType dt : kOptDTypes) {
      for (int64_t n : sizes()) {
        const std::string what = label(k.name, dt, n);
        Twin p = uniform_twin(n, dt, -1, 1, seed++);
        Twin g = uniform_twin(n, dt, -1, 1, seed++);
        Twin b = k.o.momentum != 0 ? uniform_twin(n, dt, -0.5, 0.5, seed++) : Twin{};
        // Every other run passes the flag as a float32 zero on the device: the update runs.
        Twin fi = (run++ % 2) ? scalar_twin(0) : Twin{};
        cpu().sgd_step(p.host, g.host, b.host, k.first_step, k.o, fi.host);
        gpu().sgd_step(p.device, g.device, b.device, k.first_step, k.o, fi.device);
        check_twin(what + " param", p, kExact);
        check_twin(what + " momentum_buffer", b, kExact);
      }
    }
  }
}

TEST_CASE("cuda: adam_step matches the CPU over consecutive steps") {
  constexpr int kSteps = 3;
  uint64_t seed = 10000;
  for (const AdamCase& k : adam_cases()) {
    for (DType dt : kOptDTypes) {
      for (int64_t n : sizes()) {
        const std::string what = label(k.name, dt, n);
        Twin p = uniform_twin(n, dt, -1, 1, seed++);
        Twin m = uniform_twin(n, dt, -0.1, 0.1, seed++);
        Twin v = uniform_twin(n, dt, 0, 1e-2, seed++);
        Twin vmax = k.o.amsgrad ? uniform_twin(n, dt, 0, 1e-2, seed++) : Twin{};
        Twin step = scalar_twin(k.first_count);
        for (int s = 0; s < kSteps; ++s) {
          const std::string at = what + " step " + std::to_string(s + 1);
          Twin g = uniform_twin(n, dt, -1, 1, seed++);
          Twin fi = s == 1 ? scalar_twin(0) : Twin{};  // a zero flag changes nothing
          cpu().adam_step(p.host, g.host, m.host, v.host, vmax.host, step.host, k.o, fi.host);
          gpu().adam_step(p.device, g.device, m.device, v.device, vmax.device, step.device, k.o,
                          fi.device);
          check_twin(at + " param", p, adam_tolerance(dt));
          check_twin(at + " exp_avg", m, adam_tolerance(dt));
          check_twin(at + " exp_avg_sq", v, adam_tolerance(dt));
          check_twin(at + " max_exp_avg_sq", vmax, adam_tolerance(dt));
        }
        // The device counter ends exactly kSteps further on, as the CPU's.
        WHET_CHECK_CLOSE(what + " step", step.device, step.host, Tol{0, 0});
        CHECK(values(step.device) == std::vector<double>{k.first_count + kSteps});
      }
    }
  }
}

TEST_CASE("cuda: rmsprop_step matches the CPU over consecutive steps") {
  constexpr int kSteps = 2;
  uint64_t seed = 20000;
  for (const RmspropCase& k : rmsprop_cases()) {
    for (DType dt : kOptDTypes) {
      for (int64_t n : sizes()) {
        const std::string what = label(k.name, dt, n);
        Twin p = uniform_twin(n, dt, -1, 1, seed++);
        // square_avg >= grad_avg^2 (as a real history gives), so the centered variance stays
        // well away from zero.
        Twin sq = uniform_twin(n, dt, 1e-2, 2e-2, seed++);
        Twin ga = k.o.centered ? uniform_twin(n, dt, -0.05, 0.05, seed++) : Twin{};
        Twin b = k.o.momentum > 0 ? uniform_twin(n, dt, -0.1, 0.1, seed++) : Twin{};
        Twin step = scalar_twin(7);
        for (int s = 0; s < kSteps; ++s) {
          const std::string at = what + " step " + std::to_string(s + 1);
          Twin g = uniform_twin(n, dt, -1, 1, seed++);
          Twin fi = s == 1 ? scalar_twin(0) : Twin{};
          cpu().rmsprop_step(p.host, g.host, sq.host, ga.host, b.host, step.host, k.o, fi.host);
          gpu().rmsprop_step(p.device, g.device, sq.device, ga.device, b.device, step.device, k.o,
                             fi.device);
          check_twin(at + " param", p, kExact);
          check_twin(at + " square_avg", sq, kExact);
          check_twin(at + " grad_avg", ga, kExact);
          check_twin(at + " momentum_buffer", b, kExact);
        }
        WHET_CHECK_CLOSE(what + " step", step.device, step.host, Tol{0, 0});
        CHECK(values(step.device) == std::vector<double>{7.0 + kSteps});
      }
    }
  }
}

TEST_CASE("cuda: a set found_inf leaves every tensor of an update bit for bit unchanged") {
  uint64_t seed = 30000;
  for (DType dt : kOptDTypes) {
    for (int64_t n : {int64_t(1), int64_t(4097), (int64_t(1) << 20) + 3}) {
      auto fresh = [&](double lo, double hi) { return uniform_twin(n, dt, lo, hi, seed++); };
      Twin fi = scalar_twin(1);

      {  // SGD with momentum, nesterov and weight decay
        SgdStepOptions o;
        o.lr = 0.1;
        o.momentum = 0.9;
        o.nesterov = true;
        o.weight_decay = 1e-2;
        Twin p = fresh(-1, 1), g = fresh(-1, 1), b = fresh(-1, 1);
        Tensor p0 = host_copy(p), b0 = host_copy(b);
        gpu().sgd_step(p.device, g.device, b.device, false, o, fi.device);
        const std::string what = label("sgd skipped", dt, n);
        check_unchanged(what + " param", p0, p.device);
        check_unchanged(what + " momentum_buffer", b0, b.device);
      }
      {  // Adam with amsgrad and weight decay
        AdamStepOptions o;
        o.amsgrad = true;
        o.weight_decay = 1e-2;
        Twin p = fresh(-1, 1), g = fresh(-1, 1), m = fresh(-0.1, 0.1), v = fresh(0, 1e-2),
             vmax = fresh(0, 1e-2), step = scalar_twin(5);
        Tensor p0 = host_copy(p), m0 = host_copy(m), v0 = host_copy(v), vmax0 = host_copy(vmax),
               step0 = host_copy(step);
        gpu().adam_step(p.device, g.device, m.device, v.device, vmax.device, step.device, o,
                        fi.device);
        const std::string what = label("adam skipped", dt, n);
        check_unchanged(what + " param", p0, p.device);
        check_unchanged(what + " exp_avg", m0, m.device);
        check_unchanged(what + " exp_avg_sq", v0, v.device);
        check_unchanged(what + " max_exp_avg_sq", vmax0, vmax.device);
        check_unchanged(what + " step", step0, step.device);
      }
      {  // RMSprop centered with momentum
        RmspropStepOptions o;
        o.centered = true;
        o.momentum = 0.9;
        o.weight_decay = 1e-2;
        Twin p = fresh(-1, 1), g = fresh(-1, 1), sq = fresh(1e-2, 2e-2), ga = fresh(-0.05, 0.05),
             b = fresh(-0.1, 0.1), step = scalar_twin(5);
        Tensor p0 = host_copy(p), sq0 = host_copy(sq), ga0 = host_copy(ga), b0 = host_copy(b),
               step0 = host_copy(step);
        gpu().rmsprop_step(p.device, g.device, sq.device, ga.device, b.device, step.device, o,
                           fi.device);
        const std::string what = label("rmsprop skipped", dt, n);
        check_unchanged(what + " param", p0, p.device);
        check_unchanged(what + " square_avg", sq0, sq.device);
        check_unchanged(what + " grad_avg", ga0, ga.device);
        check_unchanged(what + " momentum_buffer", b0, b.device);
        check_unchanged(what + " step", step0, step.device);
      }
      WHET_CHECK_CLOSE(label("found_inf after skipped updates", dt, n), fi.device,
                       Tensor::scalar(1.0), Tol{0, 0});
    }
  }
}

TEST_CASE("cuda: amp_unscale matches the CPU and flags inf and NaN") {
  uint64_t seed = 40000;
  for (DType dt : kOptDTypes) {
    for (int64_t n : sizes()) {
      // 3000 is no power of two: 1/scale rounds, through double then float32, as PyTorch's.
      for (double scale_value : {65536.0, 3000.0}) {
        const std::string what =
            label("amp_unscale scale " + std::to_string(int64_t(scale_value)), dt, n);
        Twin scale = scalar_twin(scale_value);

        {  // finite: found_inf stays 0, grads scaled as the CPU's
          Twin g = twin(uniform_cpu({n}, dt, -1e4, 1e4, seed++));
          Twin fi = scalar_twin(0);
          cpu().amp_unscale(g.host, scale.host, fi.host);
          gpu().amp_unscale(g.device, scale.device, fi.device);
          WHET_CHECK_CLOSE(what + " finite grad", g.device, g.host, kExact);
          WHET_CHECK_CLOSE(what + " finite found_inf", fi.device, Tensor::scalar(0.0), Tol{0, 0});
        }
        {  // a flag already set is never cleared, and the grads are still unscaled
          Twin g = twin(uniform_cpu({n}, dt, -1e4, 1e4, seed++));
          Twin fi = scalar_twin(1);
          cpu().amp_unscale(g.host, scale.host, fi.host);
          gpu().amp_unscale(g.device, scale.device, fi.device);
          WHET_CHECK_CLOSE(what + " found_inf kept", fi.device, Tensor::scalar(1.0), Tol{0, 0});
          WHET_CHECK_CLOSE(what + " grad with found_inf set", g.device, g.host, kExact);
        }
        // One inf or NaN at an odd index (index 0 when n = 1).
        const int64_t bad = n > 1 ? ((n / 2) | 1) : 0;
        for (double poison : {double(INFINITY), -double(INFINITY), double(NAN)}) {
          const std::string at =
              what + " with " + std::to_string(poison) + " at " + std::to_string(bad);
          Tensor h = uniform_cpu({n}, dt, -1e4, 1e4, seed++);
          set_element(h, bad, poison);
          Twin g = twin(h);
          Twin fi = scalar_twin(0);
          cpu().amp_unscale(g.host, scale.host, fi.host);
          gpu().amp_unscale(g.device, scale.device, fi.device);
          WHET_CHECK_CLOSE(at + " found_inf", fi.device, Tensor::scalar(1.0), Tol{0, 0});
          // A NaN result would read as poison in the comparison: compare it apart.
          std::vector<double> got = values(g.device), want = values(g.host);
          CHECK_MESSAGE(std::isnan(got[size_t(bad)]) == std::isnan(want[size_t(bad)]), at);
          if (std::isnan(want[size_t(bad)])) got[size_t(bad)] = want[size_t(bad)] = 0;
          const std::string m = mismatch(got, want, kExact);
          CHECK_MESSAGE(m.empty(), at << " grad: " << m);
        }
      }
    }
  }
}

TEST_CASE("cuda: amp_update_scale matches the CPU") {
  struct Case {
    const char* name;
    double scale, found_inf;
    int64_t tracker, interval;
    double growth, backoff;
    double want_scale;
    int64_t want_tracker;
  };
  const Case cases[] = {
      {"backoff on inf", 65536, 1, 5, 2000, 2.0, 0.5, 32768, 0},
      {"backoff by 0.3 (rounded through double)", 3000, 1, 7, 2000, 2.0, 0.3, double(float(900.0)),
       0},
      {"growth at the interval", 1024, 0, 1999, 2000, 2.0, 0.5, 2048, 0},
      {"growth by 1.7", 1000, 0, 2, 3, 1.7, 0.5, double(float(1700.0)), 0},
      {"tracker increment", 1024, 0, 3, 2000, 2.0, 0.5, 1024, 4},
      {"no growth past float32's range", 3e38, 0, 0, 1, 2.0, 0.5, double(float(3e38)), 0},
  };
  for (const Case& k : cases) {
    Twin scale = scalar_twin(k.scale), fi = scalar_twin(k.found_inf),
         tracker = scalar_twin(double(k.tracker), DType::i64);
    cpu().amp_update_scale(scale.host, tracker.host, fi.host, k.growth, k.backoff, k.interval);
    gpu().amp_update_scale(scale.device, tracker.device, fi.device, k.growth, k.backoff,
                           k.interval);
    WHET_CHECK_CLOSE(std::string(k.name) + " scale", scale.device, scale.host, Tol{0, 0});
    WHET_CHECK_CLOSE(std::string(k.name) + " growth_tracker", tracker.device, tracker.host,
                     Tol{0, 0});
    CHECK_MESSAGE(values(scale.device) == std::vector<double>{k.want_scale}, k.name);
    CHECK_MESSAGE(values(tracker.device) == std::vector<double>{double(k.want_tracker)}, k.name);
    WHET_CHECK_CLOSE(std::string(k.name) + " found_inf untouched", fi.device, fi.host, Tol{0, 0});
  }
}

TEST_CASE("cuda: optimizer updates reject unsupported dtypes with whet::Error") {
  Twin p = twin(uniform_cpu({5}, DType::f16, -1, 1, 1)),
       g = twin(uniform_cpu({5}, DType::f16, -1, 1, 2));
  Twin none;
  CHECK_THROWS_WITH_AS(
      gpu().sgd_step(p.device, g.device, none.device, false, SgdStepOptions{}, none.device),
      doctest::Contains("sgd_step: dtype float16 is not supported"), Error);
  Twin scale = scalar_twin(2), fi = scalar_twin(0);
  CHECK_THROWS_WITH_AS(gpu().amp_unscale(g.device, scale.device, fi.device),
                       doctest::Contains("amp_unscale: dtype float16 is not supported"), Error);
}

TEST_CASE("cuda: adam amsgrad lets NaN win in max_exp_avg_sq, as the CPU") {
  // A NaN gradient element makes exp_avg_sq NaN there, and max_exp_avg_sq takes it; a NaN
  // already in max_exp_avg_sq stays, whatever exp_avg_sq holds. A second, clean step keeps both.
  AdamStepOptions o;
  o.lr = 1e-2;
  o.amsgrad = true;
  uint64_t seed = 50000;
  for (DType dt : kOptDTypes) {
    for (int64_t n : {int64_t(7), int64_t(4097), (int64_t(1) << 20) + 3}) {
      const std::string what = label("adam amsgrad NaN", dt, n);
      const int64_t bad = (n / 2) | 1, kept = 0;  // the NaN gradient; the NaN already in vmax
      Twin p = uniform_twin(n, dt, -1, 1, seed++);
      Twin m = uniform_twin(n, dt, -0.1, 0.1, seed++);
      Twin v = uniform_twin(n, dt, 0, 1e-2, seed++);
      Tensor vmax_host = uniform_cpu({n}, dt, 0, 1e-2, seed++);
      set_element(vmax_host, kept, NAN);
      Twin vmax = twin(vmax_host);
      Twin step = scalar_twin(0);
      for (int s = 0; s < 2; ++s) {
        const std::string at = what + " step " + std::to_string(s + 1);
        Tensor gh = uniform_cpu({n}, dt, -1, 1, seed++);
        if (s == 0) set_element(gh, bad, NAN);
        Twin g = twin(gh);
        cpu().adam_step(p.host, g.host, m.host, v.host, vmax.host, step.host, o, Tensor());
        gpu().adam_step(p.device, g.device, m.device, v.device, vmax.device, step.device, o,
                        Tensor());
        check_twin_nan(at + " param", p, adam_tolerance(dt));
        check_twin_nan(at + " exp_avg", m, adam_tolerance(dt));
        check_twin_nan(at + " exp_avg_sq", v, adam_tolerance(dt));
        check_twin_nan(at + " max_exp_avg_sq", vmax, adam_tolerance(dt));
        const std::vector<double> got_v = values(v.device), got_vmax = values(vmax.device);
        CHECK_MESSAGE(std::isnan(got_v[size_t(bad)]), at << ": exp_avg_sq not NaN at " << bad);
        CHECK_MESSAGE(std::isnan(got_vmax[size_t(bad)]),
                      at << ": max_exp_avg_sq did not take the NaN at " << bad);
        CHECK_MESSAGE(!std::isnan(got_v[size_t(kept)]), at << ": exp_avg_sq NaN at " << kept);
        CHECK_MESSAGE(std::isnan(got_vmax[size_t(kept)]),
                      at << ": max_exp_avg_sq lost its NaN at " << kept);
      }
    }
  }
}

TEST_CASE("cuda: found_inf set by amp_unscale on the device skips the updates that read it") {
  // GradScaler's order: every gradient is unscaled into one found_inf, then every update reads
  // that same device tensor, with no host read in between. One inf skips all of them; a clean
  // round (a fresh zero flag) then updates them as the CPU does.
  uint64_t seed = 60000;
  for (DType dt : kOptDTypes) {
    for (int64_t n : {int64_t(1), int64_t(4097), (int64_t(1) << 20) + 3}) {
      const std::string what = label("device chain", dt, n);
      auto fresh = [&](double lo, double hi) { return uniform_twin(n, dt, lo, hi, seed++); };
      SgdStepOptions so;
      so.lr = 0.1;
      so.momentum = 0.9;
      so.weight_decay = 1e-2;
      AdamStepOptions ao;
      ao.amsgrad = true;
      ao.weight_decay = 1e-2;
      RmspropStepOptions ro;
      ro.centered = true;
      ro.momentum = 0.9;
      Twin sp = fresh(-1, 1), sb = fresh(-1, 1);
      Twin ap = fresh(-1, 1), am = fresh(-0.1, 0.1), av = fresh(0, 1e-2), avmax = fresh(0, 1e-2),
           astep = scalar_twin(5);
      Twin rp = fresh(-1, 1), rsq = fresh(1e-2, 2e-2), rga = fresh(-0.05, 0.05),
           rb = fresh(-0.1, 0.1), rstep = scalar_twin(5);
      Twin scale = scalar_twin(1024);
      const std::vector<std::pair<const char*, const Twin*>> state = {
          {"sgd param", &sp},
          {"sgd momentum_buffer", &sb},
          {"adam param", &ap},
          {"adam exp_avg", &am},
          {"adam exp_avg_sq", &av},
          {"adam max_exp_avg_sq", &avmax},
          {"adam step", &astep},
          {"rmsprop param", &rp},
          {"rmsprop square_avg", &rsq},
          {"rmsprop grad_avg", &rga},
          {"rmsprop momentum_buffer", &rb},
          {"rmsprop step", &rstep}};

      // Unscales the three gradients into one flag, then runs the three updates with it, on
      // both sides.
      auto round = [&](Twin& sg, Twin& ag, Twin& rg, Twin& fi) {
        for (Twin* g : {&sg, &ag, &rg}) {
          cpu().amp_unscale(g->host, scale.host, fi.host);
          gpu().amp_unscale(g->device, scale.device, fi.device);
        }
        cpu().sgd_step(sp.host, sg.host, sb.host, false, so, fi.host);
        gpu().sgd_step(sp.device, sg.device, sb.device, false, so, fi.device);
        cpu().adam_step(ap.host, ag.host, am.host, av.host, avmax.host, astep.host, ao, fi.host);
        gpu().adam_step(ap.device, ag.device, am.device, av.device, avmax.device, astep.device, ao,
                        fi.device);
        cpu().rmsprop_step(rp.host, rg.host, rsq.host, rga.host, rb.host, rstep.host, ro, fi.host);
        gpu().rmsprop_step(rp.device, rg.device, rsq.device, rga.device, rb.device, rstep.device,
                           ro, fi.device);
      };

      {  // an inf in the last gradient unscaled
        std::vector<Tensor> before;
        for (const auto& s : state) before.push_back(host_copy(*s.second));
        Twin sg = fresh(-1e3, 1e3), ag = fresh(-1e3, 1e3);
        Tensor rh = uniform_cpu({n}, dt, -1e3, 1e3, seed++);
        set_element(rh, n / 2, INFINITY);
        Twin rg = twin(rh);
        Twin fi = scalar_twin(0);
        round(sg, ag, rg, fi);
        WHET_CHECK_CLOSE(what + " found_inf", fi.device, Tensor::scalar(1.0), kExact);
        for (size_t i = 0; i < state.size(); ++i)
          check_unchanged(what + " " + state[i].first, before[i], state[i].second->device);
        // The gradients were unscaled all the same.
        WHET_CHECK_CLOSE(what + " sgd grad", sg.device, sg.host, kExact);
        WHET_CHECK_CLOSE(what + " adam grad", ag.device, ag.host, kExact);
        WHET_CHECK_CLOSE(what + " rmsprop grad", rg.device, rg.host, kExact);
      }
      {  // clean gradients, a fresh zero flag: every update runs, as the CPU's
        Twin sg = fresh(-1e3, 1e3), ag = fresh(-1e3, 1e3), rg = fresh(-1e3, 1e3);
        Twin fi = scalar_twin(0);
        round(sg, ag, rg, fi);
        WHET_CHECK_CLOSE(what + " clean found_inf", fi.device, Tensor::scalar(0.0), kExact);
        for (const auto& s : state) {
          const bool adam = std::string(s.first).rfind("adam", 0) == 0;
          check_twin(what + " clean " + s.first, *s.second, adam ? adam_tolerance(dt) : kExact);
        }
        CHECK(values(astep.device) == std::vector<double>{6});
        CHECK(values(rstep.device) == std::vector<double>{6});
      }
    }
  }
}

TEST_CASE("cuda: optimizer updates reject a CPU tensor beside a CUDA parameter with whet::Error") {
  const int64_t n = 5;
  Tensor p0 = uniform_cpu({n}, DType::f32, -1, 1, 70000);
  Tensor p = to_gpu(p0), g = to_gpu(uniform_cpu({n}, DType::f32, -1, 1, 70001));
  Tensor m = to_gpu(uniform_cpu({n}, DType::f32, -0.1, 0.1, 70002));
  Tensor v = to_gpu(uniform_cpu({n}, DType::f32, 0, 1e-2, 70003));
  Tensor step = to_gpu(Tensor::scalar(0.0)), fi = to_gpu(Tensor::scalar(0.0));
  Tensor scale = to_gpu(Tensor::scalar(1024.0)), tracker = to_gpu(Tensor::scalar(0.0, DType::i64));
  Tensor cpu_m = uniform_cpu({n}, DType::f32, -0.1, 0.1, 70004);
  Tensor cpu_step = Tensor::scalar(0.0), cpu_fi = Tensor::scalar(0.0);
  Tensor none;
  const SgdStepOptions so;
  const AdamStepOptions ao;
  const RmspropStepOptions ro;

  check_device_error(
      "adam_step with a CPU step", [&] { gpu().adam_step(p, g, m, v, none, cpu_step, ao, fi); },
      "step");
  check_device_error(
      "adam_step with a CPU found_inf",
      [&] { gpu().adam_step(p, g, m, v, none, step, ao, cpu_fi); }, "found_inf");
  check_device_error(
      "adam_step with a CPU exp_avg", [&] { gpu().adam_step(p, g, cpu_m, v, none, step, ao, fi); },
      "exp_avg");
  check_device_error(
      "rmsprop_step with a CPU step",
      [&] { gpu().rmsprop_step(p, g, v, none, none, cpu_step, ro, fi); }, "step");
  check_device_error(
      "rmsprop_step with a CPU found_inf",
      [&] { gpu().rmsprop_step(p, g, v, none, none, step, ro, cpu_fi); }, "found_inf");
  check_device_error(
      "sgd_step with a CPU found_inf", [&] { gpu().sgd_step(p, g, none, false, so, cpu_fi); },
      "found_inf");
  check_device_error(
      "amp_unscale with a CPU found_inf", [&] { gpu().amp_unscale(g, scale, cpu_fi); },
      "found_inf");
  check_device_error(
      "amp_update_scale with a CPU found_inf",
      [&] { gpu().amp_update_scale(scale, tracker, cpu_fi, 2.0, 0.5, 2000); }, "found_inf");
  // Nothing ran: the device tensors are as they were.
  WHET_CHECK_CLOSE("param after the rejected calls", p, p0, kExact);
  WHET_CHECK_CLOSE("step after the rejected calls", step, Tensor::scalar(0.0), kExact);
  WHET_CHECK_CLOSE("scale after the rejected calls", scale, Tensor::scalar(1024.0), kExact);
}

TEST_CASE("cuda: an empty parameter launches nothing and still advances the step count") {
  int64_t count = 3;
  for (DType dt : kOptDTypes) {
    for (bool with_flag : {false, true}) {
      const std::string what =
          std::string("empty parameter ") + dtype_name(dt) + (with_flag ? " zero flag" : "");
      auto empty = [&] { return twin(Tensor::empty({0}, dt)); };
      Twin fi = with_flag ? scalar_twin(0) : Twin{};

      SgdStepOptions so;
      so.momentum = 0.9;
      Twin sp = empty(), sg = empty(), sb = empty();
      cpu().sgd_step(sp.host, sg.host, sb.host, false, so, fi.host);
      gpu().sgd_step(sp.device, sg.device, sb.device, false, so, fi.device);
      CHECK(sp.device.numel() == 0);

      AdamStepOptions ao;
      ao.amsgrad = true;
      Twin ap = empty(), ag = empty(), am = empty(), av = empty(), avmax = empty(),
           astep = scalar_twin(double(count));
      cpu().adam_step(ap.host, ag.host, am.host, av.host, avmax.host, astep.host, ao, fi.host);
      gpu().adam_step(ap.device, ag.device, am.device, av.device, avmax.device, astep.device, ao,
                      fi.device);
      WHET_CHECK_CLOSE(what + " adam step", astep.device, astep.host, kExact);
      CHECK_MESSAGE(values(astep.device) == std::vector<double>{double(count + 1)}, what);

      RmspropStepOptions ro;
      ro.centered = true;
      ro.momentum = 0.5;
      Twin rp = empty(), rg = empty(), rsq = empty(), rga = empty(), rb = empty(),
           rstep = scalar_twin(double(count));
      cpu().rmsprop_step(rp.host, rg.host, rsq.host, rga.host, rb.host, rstep.host, ro, fi.host);
      gpu().rmsprop_step(rp.device, rg.device, rsq.device, rga.device, rb.device, rstep.device, ro,
                         fi.device);
      WHET_CHECK_CLOSE(what + " rmsprop step", rstep.device, rstep.host, kExact);
      CHECK_MESSAGE(values(rstep.device) == std::vector<double>{double(count + 1)}, what);

      Twin ug = empty(), scale = scalar_twin(1024), ufi = scalar_twin(0);
      cpu().amp_unscale(ug.host, scale.host, ufi.host);
      gpu().amp_unscale(ug.device, scale.device, ufi.device);
      WHET_CHECK_CLOSE(what + " amp_unscale found_inf", ufi.device, Tensor::scalar(0.0), kExact);
      ++count;
    }
  }
}
