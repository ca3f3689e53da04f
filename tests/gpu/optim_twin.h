// Helpers of the fused optimizer and loss-scaling GPU suites (test_cuda_optim.cpp,
// test_cuda_amp.cpp): one tensor on both sides (Twin), comparisons against the CPU, and the
// option cases of SGD, Adam/AdamW and RMSprop.
//
// Both sides avoid fused multiply-adds and round every +, -, *, / and sqrt correctly, so the
// results are compared exactly; Adam alone allows a last-bit slack (adam_tolerance).
#pragma once
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tests/gpu/gpu_test_util.h"

namespace whet::gputest {

inline const DType kOptDTypes[] = {DType::f32, DType::f64};
inline const Tol kExact{0, 0};

// Adam's bias corrections go through a double pow, where CUDA's and glibc's may differ in the
// last bit; in float32 that can flip the rounding of step_size (and so of every param).
// The absolute term covers parameters the update brings near zero, where one ulp of step_size
// (about 1e-7 of an lr-sized update in float32, 1e-16 in float64) is a large relative error.
inline Tol adam_tolerance(DType dt) {
  return dt == DType::f32 ? Tol{1e-6, 1e-9} : Tol{1e-15, 1e-17};
}

// One tensor on both sides, holding the same values before the update.
struct Twin {
  Tensor host, device;
};

inline Twin twin(const Tensor& host) { return {host, to_gpu(host)}; }
inline Twin uniform_twin(int64_t n, DType dt, double lo, double hi, uint64_t seed) {
  return twin(uniform_cpu({n}, dt, lo, hi, seed));
}
// A 0-D scalar (found_inf, step, scale: float32; growth_tracker: int64).
inline Twin scalar_twin(double v, DType dt = DType::f32) { return twin(Tensor::scalar(v, dt)); }

inline std::string label(const std::string& what, DType dt, int64_t n) {
  return what + " " + dtype_name(dt) + " n=" + std::to_string(n);
}

inline void check_twin(const std::string& what, const Twin& t, Tol tol) {
  if (t.host.defined()) WHET_CHECK_CLOSE(what, t.device, t.host, tol);
}

// As check_twin where NaN is expected: the NaN positions must be the CPU's, and the finite
// rest meets tol (mismatch() fails on any NaN, so matched NaNs are taken out first).
inline void check_twin_nan(const std::string& what, const Twin& t, Tol tol) {
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
inline void set_element(Tensor& h, int64_t i, double x) {
  if (h.dtype() == DType::f32)
    h.data<float>()[i] = float(x);
  else
    h.data<double>()[i] = x;
}

// `call` throws whet::Error (before launching anything) whose message names the tensor and
// both devices.
template <class F>
inline void check_device_error(const std::string& what, F&& call, const std::string& name) {
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
inline void check_unchanged(const std::string& what, const Tensor& before, const Tensor& device) {
  if (!before.defined()) return;
  Tensor after = to_host(device);
  CHECK_MESSAGE(std::memcmp(before.raw_data(), after.raw_data(), before.nbytes()) == 0,
                what << ": changed although found_inf was set");
}

inline Tensor host_copy(const Twin& t) { return t.device.defined() ? to_host(t.device) : Tensor(); }

// ---- SGD ----

struct SgdCase {
  const char* name;
  SgdStepOptions o;
  bool first_step;
};

inline std::vector<SgdCase> sgd_cases() {
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

inline std::vector<AdamCase> adam_cases() {
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

inline std::vector<RmspropCase> rmsprop_cases() {
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

}  // namespace whet::gputest
