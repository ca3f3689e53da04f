// Fused optimizer updates and loss scaling on CUDA against the CPU kernels
// (kernels/cpu/optim_step.cpp): SGD, Adam/AdamW and RMSprop under each of their options, over
// consecutive steps so the device step counter matters, GradScaler's unscale and scale update,
// and the skip rule (a set found_inf leaves every tensor bit for bit as it was). Each state
// tensor starts with the same fresh random values on both sides; the CPU updates its copy in
// place and the device its own.
#include <cstring>
#include <string>
#include <vector>

#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

const DType kOptDTypes[] = {DType::f32, DType::f64};

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
  AdamStepOptions all = o;
  all.amsgrad = true;
  all.maximize = true;
  all.weight_decay = 0.1;
  all.decoupled_weight_decay = true;
  all.beta1 = 0.6;  // lerp's weight 0.4 < 0.5: torch.lerp's other formula
  all.eps = 1e-6;
  c.push_back({"adamw amsgrad maximize beta1 0.6", all, 0});
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
  for (const SgdCase& k : sgd_cases()) {
    for (DType dt : kOptDTypes) {
      for (int64_t n : sizes()) {
        const std::string what = label(k.name, dt, n);
        Twin p = uniform_twin(n, dt, -1, 1, seed++);
        Twin g = uniform_twin(n, dt, -1, 1, seed++);
        Twin b = k.o.momentum != 0 ? uniform_twin(n, dt, -0.5, 0.5, seed++) : Twin{};
        // The flag, when given, is a float32 zero on the device: the update runs.
        Twin fi = (seed % 2) ? scalar_twin(0) : Twin{};
        cpu().sgd_step(p.host, g.host, b.host, k.first_step, k.o, fi.host);
        gpu().sgd_step(p.device, g.device, b.device, k.first_step, k.o, fi.device);
        check_twin(what + " param", p, tolerance(dt));
        check_twin(what + " momentum_buffer", b, tolerance(dt));
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
          // All arithmetic is rounded as the CPU's; only the double pow behind the bias
          // corrections may differ in a last bit (CUDA's pow vs glibc's), far inside these.
          check_twin(at + " param", p, tolerance(dt));
          check_twin(at + " exp_avg", m, tolerance(dt));
          check_twin(at + " exp_avg_sq", v, tolerance(dt));
          check_twin(at + " max_exp_avg_sq", vmax, tolerance(dt));
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
          check_twin(at + " param", p, tolerance(dt));
          check_twin(at + " square_avg", sq, tolerance(dt));
          check_twin(at + " grad_avg", ga, tolerance(dt));
          check_twin(at + " momentum_buffer", b, tolerance(dt));
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
          WHET_CHECK_CLOSE(what + " finite grad", g.device, g.host, tolerance(dt));
          WHET_CHECK_CLOSE(what + " finite found_inf", fi.device, Tensor::scalar(0.0), Tol{0, 0});
        }
        {  // a flag already set is never cleared
          Twin g = twin(uniform_cpu({n}, dt, -1e4, 1e4, seed++));
          Twin fi = scalar_twin(1);
          gpu().amp_unscale(g.device, scale.device, fi.device);
          WHET_CHECK_CLOSE(what + " found_inf kept", fi.device, Tensor::scalar(1.0), Tol{0, 0});
        }
        // One inf or NaN at an odd index (index 0 when n = 1).
        const int64_t bad = n > 1 ? ((n / 2) | 1) : 0;
        for (double poison : {double(INFINITY), -double(INFINITY), double(NAN)}) {
          const std::string at =
              what + " with " + std::to_string(poison) + " at " + std::to_string(bad);
          Tensor h = uniform_cpu({n}, dt, -1e4, 1e4, seed++);
          if (dt == DType::f32)
            h.data<float>()[bad] = float(poison);
          else
            h.data<double>()[bad] = poison;
          Twin g = twin(h);
          Twin fi = scalar_twin(0);
          cpu().amp_unscale(g.host, scale.host, fi.host);
          gpu().amp_unscale(g.device, scale.device, fi.device);
          WHET_CHECK_CLOSE(at + " found_inf", fi.device, Tensor::scalar(1.0), Tol{0, 0});
          // A NaN result would read as poison in the comparison: compare it apart.
          std::vector<double> got = values(g.device), want = values(g.host);
          CHECK_MESSAGE(std::isnan(got[size_t(bad)]) == std::isnan(want[size_t(bad)]), at);
          if (std::isnan(want[size_t(bad)])) got[size_t(bad)] = want[size_t(bad)] = 0;
          const std::string m = mismatch(got, want, tolerance(dt));
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
