// Pooling and batch norm on CUDA against the CPU kernels: max pooling (values, indices and
// gradients exactly), average and adaptive pooling forward and backward, and batch norm
// forward and backward in training and eval, over odd sizes and every floating dtype. The CPU
// kernels compute float32 and float64; half types are referenced by their float32
// computation on the same (already rounded) inputs.
#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

DType ref_dtype(DType dt) { return dt == DType::f64 ? DType::f64 : DType::f32; }
constexpr Tol kExact{0, 0};

Tensor cast_or_none(const Tensor& t, DType dt) { return t.defined() ? cast_cpu(t, dt) : t; }
Tensor gpu_or_none(const Tensor& t) { return t.defined() ? to_gpu(t) : t; }

// ---- pooling ----

struct PoolCase {
  Shape x;
  Pool2dOptions o;
  const char* name;
};

Pool2dOptions window(Int2 k, Int2 s, Int2 p, bool ceil = false, Int2 d = 1) {
  Pool2dOptions o;
  o.kernel_size = k, o.stride = s, o.padding = p, o.dilation = d, o.ceil_mode = ceil;
  return o;
}

Shape pool_out(const Shape& x, const Pool2dOptions& o) {
  const Int2 s = o.effective_stride();
  return {x[0], conv_out_size(x[1], o.kernel_size.h, s.h, o.padding.h, o.dilation.h, o.ceil_mode),
          conv_out_size(x[2], o.kernel_size.w, s.w, o.padding.w, o.dilation.w, o.ceil_mode), x[3]};
}

// Window cases shared by max and average pooling (dilated ones are max only).
const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {{2, 9, 11, 5}, window(3, 2, 1), "k3 s2 p1 (ResNet stem), odd sizes"},
      {{8, 56, 56, 64}, window(3, 2, 1), "k3 s2 p1, 8x56x56x64"},
      {{2, 8, 10, 3}, window(2, 2, 0), "k2 s2"},
      {{2, 7, 9, 3}, window(2, 2, 0), "k2 s2, odd sizes (floor)"},
      {{2, 7, 9, 3}, window(2, 2, 0, true), "k2 s2 ceil_mode"},
      {{1, 6, 7, 4}, window(3, 2, 1, true), "k3 s2 p1 ceil_mode"},
      {{3, 5, 5, 33}, window(5, 3, 2, true), "k5 s3 p2 ceil_mode"},
      {{2, 6, 5, 3}, window(3, 1, 1), "k3 s1 p1 (nine windows per input)"},
      {{1, 10, 9, 4}, window({2, 3}, {1, 2}, {1, 1}), "k2x3 s1x2 p1"},
      {{2, 10, 9, 4}, window(3, 1, 1, false, 2), "k3 s1 p1 dilation 2"},
      {{1, 7, 8, 6}, window({2, 3}, {3, 2}, {0, 1}, true, {3, 2}), "k2x3 s3x2 dilation 3x2 ceil"},
  };
  return cases;
}

std::string pool_label(const char* op, DType dt, const PoolCase& c) {
  return std::string(op) + " " + dtype_name(dt) + " " + shape_str(c.x) + " " + c.name;
}

// Values equal, NaN where NaN is expected (max pooling propagates NaN).
void check_same_with_nan(const std::string& what, const Tensor& actual, const Tensor& expected) {
  std::vector<double> a = values(actual), e = values(expected);
  REQUIRE(a.size() == e.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok = std::isnan(e[i]) ? std::isnan(a[i]) : a[i] == e[i];
    if (!ok && bad++ == 0) first = i;
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << a.size() << " differ; first at " << first
                               << ": got " << a[first] << ", expected " << e[first]);
}

// max_pool2d forward (values and indices) and backward, all exact: the maximum is one of the
// inputs, and the gradient sums add in the CPU's order.
void check_max_pool(const PoolCase& c, DType dt, const Tensor& x, const std::string& what,
                    uint64_t seed) {
  const DType rd = ref_dtype(dt);
  const Shape ys = pool_out(c.x, c.o);
  Tensor ye = Tensor::empty(ys, rd), ie = Tensor::empty(ys, DType::i64);
  cpu().max_pool2d(cast_cpu(x, rd), c.o, ye, ie);
  Tensor y = poisoned(ys, dt), idx = poisoned(ys, DType::i64);
  gpu().max_pool2d(to_gpu(x), c.o, y, idx);
  check_same_with_nan(what + " y", y, ye);
  WHET_CHECK_CLOSE(what + " indices", idx, ie, kExact);

  Tensor gy = uniform_cpu(ys, dt, -1, 1, seed);
  Tensor gxe = Tensor::empty(c.x, rd);
  cpu().max_pool2d_backward(cast_cpu(gy, rd), ie, gxe);
  Tensor gx = poisoned(c.x, dt);
  gpu().max_pool2d_backward(to_gpu(gy), idx, gx);
  WHET_CHECK_CLOSE(what + " gx", gx, cast_cpu(gxe, dt), kExact);
}

}  // namespace

TEST_CASE("cuda: max_pool2d and its backward match the CPU exactly") {
  uint64_t seed = 100;
  for (const PoolCase& c : pool_cases())
    for (DType dt : kFloatDTypes) {
      Tensor x = uniform_cpu(c.x, dt, -2, 2, seed++);
      check_max_pool(c, dt, x, pool_label("max_pool2d", dt, c), seed++);
    }
}

TEST_CASE("cuda: max_pool2d keeps the first of tied maxima and propagates NaN") {
  uint64_t seed = 200;
  for (const PoolCase& c : pool_cases())
    for (DType dt : kFloatDTypes) {
      // Three distinct values: most windows hold ties.
      Tensor ties = randint_cpu(c.x, dt, 0, 3, seed++);
      check_max_pool(c, dt, ties, pool_label("max_pool2d ties", dt, c), seed++);
      // About one input in six is NaN, so some windows hold two (the later one wins).
      Tensor x64 = uniform_cpu(c.x, DType::f64, -2, 2, seed++);
      Tensor mask = uniform_cpu(c.x, DType::f64, 0, 1, seed++);
      double* px = x64.data<double>();
      const double* pm = mask.data<double>();
      for (int64_t i = 0; i < x64.numel(); ++i)
        if (pm[i] < 0.17) px[i] = NAN;
      check_max_pool(c, dt, cast_cpu(x64, dt), pool_label("max_pool2d NaN", dt, c), seed++);
    }
}

TEST_CASE("cuda: avg_pool2d and its backward match the CPU") {
  uint64_t seed = 300;
  for (const PoolCase& base : pool_cases()) {
    if (!(base.o.dilation == Int2(1))) continue;  // avg_pool2d has no dilation
    for (bool include_pad : {true, false}) {
      PoolCase c = base;
      c.o.count_include_pad = include_pad;
      for (DType dt : kFloatDTypes) {
        const DType rd = ref_dtype(dt);
        const std::string what =
            pool_label("avg_pool2d", dt, c) + (include_pad ? " count_include_pad" : " exclude_pad");
        const Shape ys = pool_out(c.x, c.o);
        Tensor x = uniform_cpu(c.x, dt, -2, 2, seed++);
        Tensor ye = Tensor::empty(ys, rd);
        cpu().avg_pool2d(cast_cpu(x, rd), c.o, ye);
        Tensor y = poisoned(ys, dt);
        gpu().avg_pool2d(to_gpu(x), c.o, y);
        WHET_CHECK_CLOSE(what + " y", y, ye, tolerance(dt));

        Tensor gy = uniform_cpu(ys, dt, -1, 1, seed++);
        Tensor gxe = Tensor::empty(c.x, rd);
        cpu().avg_pool2d_backward(cast_cpu(gy, rd), c.o, gxe);
        Tensor gx = poisoned(c.x, dt);
        gpu().avg_pool2d_backward(to_gpu(gy), c.o, gx);
        WHET_CHECK_CLOSE(what + " gx", gx, gxe, tolerance(dt));
      }
    }
  }
}

TEST_CASE("cuda: adaptive_avg_pool2d and its backward match the CPU") {
  struct AdaptiveCase {
    Shape x;
    Int2 out;
  };
  // Global averages (the wide-bin kernel from 64 positions up), non-divisible and
  // overlapping bins, identity and upsampling.
  const AdaptiveCase cases[] = {
      {{2, 7, 5, 3}, {3, 2}},   {{2, 7, 7, 67}, 1},     {{4, 7, 7, 2048}, 1},
      {{2, 56, 56, 64}, 1},     {{2, 3, 3, 35}, 1},     {{1, 14, 14, 32}, 7},
      {{1, 33, 20, 3}, {2, 3}}, {{2, 5, 4, 3}, {7, 9}}, {{2, 4, 4, 5}, 4},
      {{3, 10, 13, 9}, {4, 5}},
  };
  uint64_t seed = 400;
  for (const AdaptiveCase& c : cases)
    for (DType dt : kFloatDTypes) {
      const DType rd = ref_dtype(dt);
      const Shape ys{c.x[0], c.out.h, c.out.w, c.x[3]};
      const std::string what = std::string("adaptive_avg_pool2d ") + dtype_name(dt) + " " +
                               shape_str(c.x) + " -> " + shape_str(ys);
      Tensor x = uniform_cpu(c.x, dt, -2, 2, seed++);
      Tensor ye = Tensor::empty(ys, rd);
      cpu().adaptive_avg_pool2d(cast_cpu(x, rd), ye);
      Tensor y = poisoned(ys, dt);
      gpu().adaptive_avg_pool2d(to_gpu(x), y);
      WHET_CHECK_CLOSE(what + " y", y, ye, tolerance(dt));

      Tensor gy = uniform_cpu(ys, dt, -1, 1, seed++);
      Tensor gxe = Tensor::empty(c.x, rd);
      cpu().adaptive_avg_pool2d_backward(cast_cpu(gy, rd), gxe);
      Tensor gx = poisoned(c.x, dt);
      gpu().adaptive_avg_pool2d_backward(to_gpu(gy), gx);
      WHET_CHECK_CLOSE(what + " gx", gx, gxe, tolerance(dt));
    }
}

// ---- batch norm ----

namespace {

// x's dtype and the parameters' (weight, bias, running and saved statistics): the same, or
// float32 for half x (mixed precision).
struct BnTypes {
  DType x, p;
};
const BnTypes kBnTypes[] = {{DType::f32, DType::f32}, {DType::f64, DType::f64},
                            {DType::f16, DType::f16}, {DType::bf16, DType::bf16},
                            {DType::f16, DType::f32}, {DType::bf16, DType::f32}};

struct BnCase {
  int64_t m, c;
  double lo, hi;  // range of x
};
// M from 2 rows to a chunked reduction; x offset from zero where |mean| >> std would break a
// one-pass E[x^2] - E[x]^2 in float.
const BnCase kBnCases[] = {{2, 3, -2, 3},      {7, 67, -2, 3},   {300, 67, -2, 3},
                           {33, 1280, 20, 24}, {4099, 5, -2, 3}, {1000, 64, 20, 24}};
// One ResNet-sized batch (128 x 56 x 56 rows), in float32 and mixed float16 only.
const BnCase kBnLarge{128 * 56 * 56, 67, 20, 24};

std::string bn_label(const char* what, BnTypes t, const BnCase& c) {
  return std::string(what) + " x " + dtype_name(t.x) + " params " + dtype_name(t.p) + " (" +
         std::to_string(c.m) + ", " + std::to_string(c.c) + ") x in [" + std::to_string(c.lo) +
         ", " + std::to_string(c.hi) + ")";
}

// Per-channel sums over M rows (gw, gb) accumulate float partials on the GPU (double for
// float64) and double on the CPU: their difference grows like sqrt(M) * eps * |terms|, so the
// absolute tolerance does too; `amplitude` bounds |terms| (1 for gb, max |xhat| for gw).
Tol sum_tolerance(DType p, int64_t m, double amplitude) {
  Tol t = tolerance(p);
  const double per_term = p == DType::f64 ? 1e-14 : 2e-6;
  t.atol = std::max(t.atol, per_term * std::sqrt(double(m)) * std::max(1.0, amplitude));
  return t;
}

// y = x * scale + shift (scale = invstd * w) rounds x * scale, and gx = k * (...) with
// k = invstd * w multiplies the rounding of terms that cancel exactly when M = 2: where two
// rows nearly coincide, invstd is large and both sides carry errors of about eps * |x * scale|
// (or eps * |k|), so the absolute tolerance grows with that amplitude.
Tol amplified_tolerance(DType dt, double amplitude) {
  Tol t = tolerance(dt);
  if (dt != DType::f64) t.atol = std::max(t.atol, 5e-7 * amplitude);
  return t;
}

// max over channels of |invstd * w| (w undefined: 1), from CPU tensors.
double max_scale(const Tensor& invstd, const Tensor& w) {
  std::vector<double> is = values(invstd), wv = w.defined() ? values(w) : std::vector<double>();
  double m = 0;
  for (size_t j = 0; j < is.size(); ++j)
    m = std::max(m, std::abs(is[j] * (wv.empty() ? 1 : wv[j])));
  return m;
}

// max over elements of |(x - mean) * invstd|, from CPU tensors.
double max_xhat(const Tensor& x, const Tensor& mean, const Tensor& invstd) {
  std::vector<double> xv = values(x), mv = values(mean), is = values(invstd);
  double m = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t j = i % mv.size();
    m = std::max(m, std::abs((xv[i] - mv[j]) * is[j]));
  }
  return m;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : values(t)) m = std::max(m, std::abs(v));
  return m;
}

struct BnInputs {  // host tensors in their storage dtypes
  Tensor x, w, b, rm, rv;
};

BnInputs bn_inputs(const BnCase& c, BnTypes t, uint64_t seed) {
  return {uniform_cpu({c.m, c.c}, t.x, c.lo, c.hi, seed),
          uniform_cpu({c.c}, t.p, 0.5, 1.5, seed + 1), uniform_cpu({c.c}, t.p, -1, 1, seed + 2),
          uniform_cpu({c.c}, t.p, -0.5, 0.5, seed + 3), uniform_cpu({c.c}, t.p, 0.5, 2, seed + 4)};
}

// Forward with the given options; checks y, save_mean, save_invstd and the running statistics.
// Returns the CPU's saved statistics (reference dtype) for the backward check.
std::pair<Tensor, Tensor> check_bn_forward(const BnCase& c, BnTypes t, const BnInputs& in,
                                           bool training, bool affine, bool running) {
  const DType rd = ref_dtype(t.x);
  const std::string what = bn_label(training ? "batch_norm train" : "batch_norm eval", t, c) +
                           (affine ? "" : " affine=false") + (running ? "" : " no running stats");
  Tensor w = affine ? in.w : Tensor(), b = affine ? in.b : Tensor();
  Tensor rm_e = running ? cast_cpu(in.rm, rd).clone() : Tensor();
  Tensor rv_e = running ? cast_cpu(in.rv, rd).clone() : Tensor();
  Tensor ye = Tensor::empty({c.m, c.c}, rd);
  Tensor sme = Tensor::empty({c.c}, rd), sie = Tensor::empty({c.c}, rd);
  cpu().batch_norm(cast_cpu(in.x, rd), cast_or_none(w, rd), cast_or_none(b, rd), rm_e, rv_e,
                   training, 0.1, 1e-5, ye, sme, sie);

  Tensor rm = running ? to_gpu(in.rm) : Tensor(), rv = running ? to_gpu(in.rv) : Tensor();
  Tensor y = poisoned({c.m, c.c}, t.x);
  Tensor sm = poisoned({c.c}, t.p), si = poisoned({c.c}, t.p);
  gpu().batch_norm(to_gpu(in.x), gpu_or_none(w), gpu_or_none(b), rm, rv, training, 0.1, 1e-5, y, sm,
                   si);
  const double amplitude = max_abs(in.x) * max_scale(sie, w);
  WHET_CHECK_CLOSE(what + " y", y, ye, amplified_tolerance(t.x, amplitude));
  WHET_CHECK_CLOSE(what + " save_mean", sm, sme, tolerance(t.p));
  WHET_CHECK_CLOSE(what + " save_invstd", si, sie, tolerance(t.p));
  if (running) {
    WHET_CHECK_CLOSE(what + " running_mean", rm, rm_e, tolerance(t.p));
    WHET_CHECK_CLOSE(what + " running_var", rv, rv_e, tolerance(t.p));
  }
  return {sme, sie};
}

// Backward from the same saved statistics (rounded to the parameters' dtype) on both sides,
// with the chosen gradients wanted.
void check_bn_backward(const BnCase& c, BnTypes t, const BnInputs& in, const Tensor& save_mean,
                       const Tensor& save_invstd, bool training, bool affine, bool want_gx,
                       bool want_gw, bool want_gb, uint64_t seed) {
  const DType rd = ref_dtype(t.x);
  const std::string what =
      bn_label(training ? "batch_norm backward train" : "batch_norm backward eval", t, c) +
      (affine ? "" : " affine=false") + (want_gx ? " gx" : "") + (want_gw ? " gw" : "") +
      (want_gb ? " gb" : "");
  Tensor sm = cast_cpu(save_mean, t.p), si = cast_cpu(save_invstd, t.p);
  Tensor w = affine ? in.w : Tensor();
  Tensor gy = uniform_cpu({c.m, c.c}, t.x, -1, 1, seed);

  Tensor gxe = want_gx ? Tensor::empty({c.m, c.c}, rd) : Tensor();
  Tensor gwe = want_gw ? Tensor::empty({c.c}, rd) : Tensor();
  Tensor gbe = want_gb ? Tensor::empty({c.c}, rd) : Tensor();
  cpu().batch_norm_backward(cast_cpu(gy, rd), cast_cpu(in.x, rd), cast_or_none(w, rd),
                            cast_cpu(sm, rd), cast_cpu(si, rd), training, gxe, gwe, gbe);

  Tensor gx = want_gx ? poisoned({c.m, c.c}, t.x) : Tensor();
  Tensor gw = want_gw ? poisoned({c.c}, t.p) : Tensor();
  Tensor gb = want_gb ? poisoned({c.c}, t.p) : Tensor();
  gpu().batch_norm_backward(to_gpu(gy), to_gpu(in.x), gpu_or_none(w), to_gpu(sm), to_gpu(si),
                            training, gx, gw, gb);
  const double amplitude = 4 * max_scale(si, w);  // |gy| < 1, three terms
  if (want_gx) WHET_CHECK_CLOSE(what + " gx", gx, gxe, amplified_tolerance(t.x, amplitude));
  if (want_gw) {
    const Tol tol = sum_tolerance(t.p, c.m, max_xhat(in.x, sm, si));
    WHET_CHECK_CLOSE(what + " gw", gw, gwe, tol);
  }
  if (want_gb) WHET_CHECK_CLOSE(what + " gb", gb, gbe, sum_tolerance(t.p, c.m, 1));
}

// Training and eval, forward and backward; `all_variants` adds affine=false, no running
// statistics and partial sets of gradients.
void check_bn_case(const BnCase& c, BnTypes t, uint64_t seed, bool all_variants = true) {
  const BnInputs in = bn_inputs(c, t, seed);
  auto [sm, si] = check_bn_forward(c, t, in, true, true, true);
  check_bn_backward(c, t, in, sm, si, true, true, true, true, true, seed + 10);
  if (!all_variants) return;
  check_bn_forward(c, t, in, true, false, false);
  auto [sme, sie] = check_bn_forward(c, t, in, false, true, true);
  check_bn_backward(c, t, in, sm, si, true, false, true, false, false, seed + 11);
  check_bn_backward(c, t, in, sm, si, true, true, false, true, true, seed + 12);
  check_bn_backward(c, t, in, sme, sie, false, true, true, true, true, seed + 13);
  check_bn_backward(c, t, in, sme, sie, false, true, true, false, true, seed + 14);
}

}  // namespace

TEST_CASE("cuda: batch_norm and its backward match the CPU") {
  uint64_t seed = 500;
  for (const BnCase& c : kBnCases)
    for (BnTypes t : kBnTypes) {
      check_bn_case(c, t, seed);
      seed += 20;
    }
}

TEST_CASE("cuda: batch_norm with one row per channel in eval") {
  const BnCase c{1, 3, -2, 3};
  uint64_t seed = 800;
  for (BnTypes t : kBnTypes) {
    const BnInputs in = bn_inputs(c, t, seed);
    auto [sm, si] = check_bn_forward(c, t, in, false, true, true);
    check_bn_backward(c, t, in, sm, si, false, true, true, true, true, seed + 10);
    seed += 20;
  }
}

TEST_CASE("cuda: batch_norm over a ResNet-sized batch matches the CPU") {
  check_bn_case(kBnLarge, {DType::f32, DType::f32}, 900, false);
  check_bn_case(kBnLarge, {DType::f16, DType::f32}, 950, false);
}
