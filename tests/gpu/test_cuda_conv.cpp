// NHWC convolution through cuDNN against the CPU kernels (im2col + GEMM, depthwise loops):
// forward with and without bias, input gradient and weight gradient, over ResNet/MobileNet-
// like shapes in every floating dtype. Every GPU call is made twice, into fresh poisoned
// outputs: the first picks and caches cuDNN's algorithm, the second runs the cached choice.
#include <cmath>
#include <cstdio>

#include "core/math_mode.h"
#include "core/ops.h"
#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

// In a build without cuDNN the conv slots are empty: the calling test case reports itself
// skipped by name rather than passing silently.
bool skipped_without_cudnn() {
  if (gpu().conv2d) return false;
  std::printf("SKIPPED %s: built without cuDNN\n",
              doctest::getContextOptions()->currentTest->m_name);
  return true;
}

Conv2dOptions opts(Int2 stride, Int2 padding, Int2 dilation = 1, int groups = 1) {
  Conv2dOptions o;
  o.stride = stride, o.padding = padding, o.dilation = dilation, o.groups = groups;
  return o;
}

struct ConvCase {
  const char* name;
  int64_t n, h, w, c;  // input (N, H, W, C)
  int64_t o, kh, kw;   // weight (O, KH, KW, C/groups)
  Conv2dOptions opt;
};

const ConvCase kCases[] = {
    {"3x3 stride 1 pad 1", 2, 8, 8, 16, 32, 3, 3, opts(1, 1)},
    {"7x7 stride 2 pad 3 stem with C=3, odd H/W", 2, 23, 23, 3, 16, 7, 7, opts(2, 3)},
    {"1x1 stride 2 downsample", 2, 9, 9, 32, 64, 1, 1, opts(2, 0)},
    {"1x1 stride 1 pointwise, batch 5", 5, 7, 7, 24, 16, 1, 1, opts(1, 0)},
    {"depthwise 3x3 stride 1, batch 1", 1, 10, 10, 32, 32, 3, 3, opts(1, 1, 1, 32)},
    {"depthwise 3x3 stride 2, odd H/W, batch 5", 5, 11, 13, 24, 24, 3, 3, opts(2, 1, 1, 24)},
    {"depthwise with channel multiplier 2", 2, 9, 9, 8, 16, 3, 3, opts(1, 1, 1, 8)},
    {"grouped 3x3, 4 groups", 2, 8, 8, 16, 32, 3, 3, opts(1, 1, 1, 4)},
    {"3x3 dilation 2 pad 2", 2, 12, 12, 8, 8, 3, 3, opts(1, 2, 2)},
    {"3x3 unpadded, odd H/W, batch 1", 1, 13, 7, 5, 7, 3, 3, opts(1, 0)},
    {"1x3 stride 1x2 pad 0x1", 2, 6, 11, 8, 12, 1, 3, opts({1, 2}, {0, 1})},
    {"5x5 stride 2 pad 2 dilation 2x1, 3 groups", 2, 17, 15, 12, 6, 5, 5, opts(2, 2, {2, 1}, 3)},
};

Shape x_shape(const ConvCase& k) { return {k.n, k.h, k.w, k.c}; }
Shape w_shape(const ConvCase& k) { return {k.o, k.kh, k.kw, k.c / k.opt.groups}; }
Shape y_shape(const ConvCase& k) {
  const Conv2dOptions& o = k.opt;
  return {k.n, conv_out_size(k.h, int(k.kh), o.stride.h, o.padding.h, o.dilation.h),
          conv_out_size(k.w, int(k.kw), o.stride.w, o.padding.w, o.dilation.w), k.o};
}

// The CPU kernels take float32 and float64; half inputs widen to float32 exactly, so the
// reference sees the very values the GPU was given.
DType ref_dtype(DType dt) { return dt == DType::f64 ? DType::f64 : DType::f32; }

// cuDNN and the CPU sum each output's products in different orders, and cuDNN may pick
// transform-based algorithms (Winograd) with their own rounding, so float32 allows about a
// thousand roundings of its epsilon relative to each value (sums here run over at most ~300
// products) and float64 stays tight. The half types are compared with the float32 reference
// on the same rounded inputs: their own output rounding dominates (2^-11 relative for f16,
// 2^-8 for bf16), and a forward with bias rounds twice (the convolution's result, then its sum
// with the bias), so the absolute error may reach a rounding of the pre-bias value; draw()
// keeps every result of order 1, where these atol values cover a few such roundings.
Tol conv_tol(DType dt) {
  switch (dt) {
    case DType::f32:
      return {1e-4, 1e-5};
    case DType::f64:
      return {1e-10, 1e-12};
    case DType::f16:
      return {2e-3, 2e-3};
    default:
      return {1.6e-2, 1e-2};
  }
}

// One case's inputs, drawn in dt itself: x and bias uniform in [-1, 1), w in +-1/sqrt(fan_in)
// so that outputs are of order 1 whatever the fan-in, and gy in [-1, 1) (input gradients are
// then of order 1 too) or, with `for_weight`, in +-1/sqrt(N*OH*OW) so that weight gradients,
// sums over every output pixel, are as well.
struct Inputs {
  Tensor x, w, bias, gy;
};
Inputs draw(const ConvCase& k, DType dt, uint64_t seed, bool for_weight = false) {
  const Shape ys = y_shape(k);
  const double w_bound = 1.0 / std::sqrt(double(k.kh * k.kw * (k.c / k.opt.groups)));
  const double gy_bound = for_weight ? 1.0 / std::sqrt(double(ys[0] * ys[1] * ys[2])) : 1.0;
  return {uniform_cpu(x_shape(k), dt, -1, 1, seed),
          uniform_cpu(w_shape(k), dt, -w_bound, w_bound, seed + 1),
          uniform_cpu({k.o}, dt, -1, 1, seed + 2),
          uniform_cpu(ys, dt, -gy_bound, gy_bound, seed + 3)};
}

std::string label(const char* what, const ConvCase& k, DType dt, int call) {
  std::ostringstream os;
  os << what << " " << dtype_name(dt) << ", " << k.name << ": x" << shape_str(x_shape(k)) << " w"
     << shape_str(w_shape(k)) << " groups " << k.opt.groups << (call ? " (cached algorithm)" : "");
  return os.str();
}

void check_forward(const ConvCase& k, DType dt, bool with_bias, uint64_t seed, Tol tol) {
  const Inputs in = draw(k, dt, seed);
  const DType rd = ref_dtype(dt);
  Tensor expected = Tensor::empty(y_shape(k), rd);
  cpu().conv2d(cast_cpu(in.x, rd), cast_cpu(in.w, rd), with_bias ? cast_cpu(in.bias, rd) : Tensor(),
               k.opt, expected);
  const Tensor x = to_gpu(in.x), w = to_gpu(in.w), b = with_bias ? to_gpu(in.bias) : Tensor();
  for (int call = 0; call < 2; ++call) {
    Tensor y = poisoned(y_shape(k), dt);
    gpu().conv2d(x, w, b, k.opt, y);
    WHET_CHECK_CLOSE(label(with_bias ? "conv2d with bias" : "conv2d", k, dt, call), y, expected,
                     tol);
  }
}

void check_backward_input(const ConvCase& k, DType dt, uint64_t seed, Tol tol) {
  const Inputs in = draw(k, dt, seed);
  const DType rd = ref_dtype(dt);
  Tensor expected = Tensor::empty(x_shape(k), rd);
  cpu().conv2d_backward_input(cast_cpu(in.gy, rd), cast_cpu(in.w, rd), k.opt, expected);
  const Tensor gy = to_gpu(in.gy), w = to_gpu(in.w);
  for (int call = 0; call < 2; ++call) {
    Tensor gx = poisoned(x_shape(k), dt);
    gpu().conv2d_backward_input(gy, w, k.opt, gx);
    WHET_CHECK_CLOSE(label("conv2d_backward_input", k, dt, call), gx, expected, tol);
  }
}

void check_backward_weight(const ConvCase& k, DType dt, uint64_t seed, Tol tol) {
  const Inputs in = draw(k, dt, seed, /*for_weight=*/true);
  const DType rd = ref_dtype(dt);
  Tensor expected = Tensor::empty(w_shape(k), rd);
  cpu().conv2d_backward_weight(cast_cpu(in.gy, rd), cast_cpu(in.x, rd), k.opt, expected);
  const Tensor gy = to_gpu(in.gy), x = to_gpu(in.x);
  for (int call = 0; call < 2; ++call) {
    Tensor gw = poisoned(w_shape(k), dt);
    gpu().conv2d_backward_weight(gy, x, k.opt, gw);
    WHET_CHECK_CLOSE(label("conv2d_backward_weight", k, dt, call), gw, expected, tol);
  }
}

// Sets allow_tf32 for a scope and restores it, so a failing check cannot leak TF32 onwards.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool allow) { set_allow_tf32(allow); }
  ~Tf32Scope() { set_allow_tf32(saved_); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool saved_ = allow_tf32();
};

}  // namespace

TEST_CASE("cuda: conv2d forward matches the CPU") {
  if (skipped_without_cudnn()) return;
  uint64_t seed = 1;
  for (DType dt : kFloatDTypes)
    for (const ConvCase& k : kCases)
      for (bool with_bias : {false, true}) check_forward(k, dt, with_bias, seed += 4, conv_tol(dt));
}

TEST_CASE("cuda: conv2d backward input matches the CPU") {
  if (skipped_without_cudnn()) return;
  uint64_t seed = 1001;
  for (DType dt : kFloatDTypes)
    for (const ConvCase& k : kCases) check_backward_input(k, dt, seed += 4, conv_tol(dt));
}

TEST_CASE("cuda: conv2d backward weight matches the CPU") {
  if (skipped_without_cudnn()) return;
  uint64_t seed = 2001;
  for (DType dt : kFloatDTypes)
    for (const ConvCase& k : kCases) check_backward_weight(k, dt, seed += 4, conv_tol(dt));
}

TEST_CASE("cuda: conv2d with TF32 allowed stays within TF32 rounding") {
  if (skipped_without_cudnn()) return;
  // TF32 keeps 10 mantissa bits of each input, so each product may be off by about 2^-10
  // relative; summed with random signs over the few hundred products here, that stays well
  // inside 1e-2 of the order-1 results. Whether cuDNN really used TF32 is not observable.
  const Tol tf32_tol{1e-2, 1e-2};
  Tf32Scope tf32(true);
  uint64_t seed = 3001;
  for (const ConvCase& k : {kCases[0], kCases[7]}) {
    check_forward(k, DType::f32, true, seed += 4, tf32_tol);
    check_backward_input(k, DType::f32, seed += 4, tf32_tol);
    check_backward_weight(k, DType::f32, seed += 4, tf32_tol);
  }
}

TEST_CASE("cuda: conv2d with an empty batch or no input channels") {
  if (skipped_without_cudnn()) return;
  const Conv2dOptions o = opts(1, 1);
  for (DType dt : kFloatDTypes) {
    // N = 0: nothing to write forward or into the input gradient; the weight gradient is zero.
    const Tensor x = Tensor::empty({0, 5, 5, 4}, dt, dev());
    const Tensor w = to_gpu(uniform_cpu({6, 3, 3, 4}, dt, -1, 1, 7));
    Tensor y = Tensor::empty({0, 5, 5, 6}, dt, dev());
    gpu().conv2d(x, w, Tensor(), o, y);
    Tensor gx = Tensor::empty({0, 5, 5, 4}, dt, dev());
    gpu().conv2d_backward_input(y, w, o, gx);
    Tensor gw = poisoned({6, 3, 3, 4}, dt);
    gpu().conv2d_backward_weight(y, x, o, gw);
    for (double v : values(gw)) CHECK(v == 0.0);

    // C = 0: every sum is empty, so the output is the bias alone.
    const Tensor x0 = Tensor::empty({2, 5, 5, 0}, dt, dev());
    const Tensor w0 = Tensor::empty({6, 3, 3, 0}, dt, dev());
    const Tensor bias = uniform_cpu({6}, dt, -1, 1, 8);
    Tensor y0 = poisoned({2, 5, 5, 6}, dt);
    gpu().conv2d(x0, w0, to_gpu(bias), o, y0);
    const std::vector<double> b = values(bias), got = values(y0);
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == b[i % b.size()]);
  }
}

TEST_CASE("cuda: conv2d rejects mismatched dtypes and shapes with whet::Error") {
  if (skipped_without_cudnn()) return;
  const Conv2dOptions o = opts(1, 0);
  const Tensor x = poisoned({1, 5, 5, 4}, DType::f32);
  const Tensor w = poisoned({6, 3, 3, 4}, DType::f32);
  Tensor y = poisoned({1, 3, 3, 6}, DType::f32);
  CHECK_THROWS_AS(gpu().conv2d(x, poisoned({6, 3, 3, 4}, DType::f16), Tensor(), o, y), Error);
  Tensor y_wrong = poisoned({1, 5, 5, 6}, DType::f32);  // (1, 3, 3, 6) without padding
  CHECK_THROWS_AS(gpu().conv2d(x, w, Tensor(), o, y_wrong), Error);
  CHECK_THROWS_AS(gpu().conv2d(x, w, Tensor(), opts(1, 0, 1, 2), y), Error);  // C/2 != 4
  CHECK_THROWS_AS(gpu().conv2d(x, w, poisoned({5}, DType::f32), o, y), Error);
  const Tensor xi = poisoned({1, 5, 5, 4}, DType::i32), wi = poisoned({6, 3, 3, 4}, DType::i32);
  Tensor yi = poisoned({1, 3, 3, 6}, DType::i32);
  CHECK_THROWS_AS(gpu().conv2d(xi, wi, Tensor(), o, yi), Error);
}
