// Fused optimizer updates on CUDA against the CPU kernels (kernels/cpu/optim_step.cpp): SGD,
// Adam/AdamW and RMSprop under each of their options, over consecutive steps so the device
// step counter matters, and their argument checks. Each state tensor starts with the same
// fresh random values on both sides; the CPU updates its copy in place and the device its own.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/gpu/optim_twin.h"

using namespace whet;
using namespace whet::gputest;

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
