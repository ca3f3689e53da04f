// Loss scaling on CUDA against the CPU kernels: GradScaler's unscale and scale update, and the
// skip rule of the fused updates (a set found_inf leaves every tensor bit for bit as it was),
// also when amp_unscale sets the flag on the device and the updates read it there.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tests/gpu/optim_twin.h"

using namespace whet;
using namespace whet::gputest;

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
