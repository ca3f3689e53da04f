// conv2d and the pooling ops: argument errors, output shapes, hand-computed values, float32
// against float64 on ResNet-sized shapes, and frozen weights. Gradients of every option
// combination are checked against finite differences in tools/opcheck/cases_conv_pool.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.h"
#include "core/threads.h"

using namespace whet;

namespace {

Tensor make(const std::vector<double>& v, const Shape& s, DType dt = DType::f64) {
  return Tensor::from_vector(v, s, dt);
}

// max |a - b| / (1 + max |b|): summation error grows with the tensor's scale, not with each
// element's own magnitude (a sum of random products can land near zero).
double max_rel_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    worst = std::max(worst, std::abs(va[i] - vb[i]));
    scale = std::max(scale, std::abs(vb[i]));
  }
  return worst / (1 + scale);
}

void check_values(const Tensor& t, const std::vector<double>& expected) {
  std::vector<double> v = t.to_vector<double>();
  REQUIRE(v.size() == expected.size());
  for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == doctest::Approx(expected[i]));
}

}  // namespace

TEST_CASE("conv2d rejects bad arguments with messages naming the op") {
  Tensor x = zeros({1, 5, 5, 4}), w = zeros({6, 3, 3, 4});
  const auto has = [](const char* s) { return doctest::Contains(s); };
  CHECK_THROWS_WITH_AS(conv2d(zeros({5, 5, 4}), w), has("conv2d"), Error);  // 3-D input
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({6, 3, 4})), has("conv2d"), Error);  // 3-D weight
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor()), has("conv2d"), Error);          // no weight
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({6, 3, 3, 3})), has("channels per group"), Error);
  Conv2dOptions g3;
  g3.groups = 3;  // 4 channels are not divisible by 3
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({6, 3, 3, 1}), Tensor(), g3), has("conv2d"), Error);
  Conv2dOptions g2;
  g2.groups = 2;  // 5 output channels are not divisible by 2
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({5, 3, 3, 2}), Tensor(), g2), has("conv2d"), Error);
  Conv2dOptions g0;
  g0.groups = 0;
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), g0), has("conv2d"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({5})), has("bias"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({6, 1})), has("conv2d"), Error);
  Conv2dOptions bad;
  bad.stride = 0;
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), bad), has("stride"), Error);
  bad = {};
  bad.stride = {1, -2};
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), bad), has("stride"), Error);
  bad = {};
  bad.dilation = 0;
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), bad), has("dilation"), Error);
  bad = {};
  bad.padding = {-1, 0};
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), bad), has("padding"), Error);
  // The kernel (dilated to 7x7) does not fit in the 5x5 input.
  bad = {};
  bad.dilation = 3;
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), bad), has("conv2d: output size"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({6, 3, 3, 4}, DType::f64)), has("conv2d"), Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 5, 5, 4}, DType::i32), zeros({6, 3, 3, 4}, DType::i32)),
                       has("conv2d"), Error);
}

TEST_CASE("pooling ops reject bad arguments with messages naming the op") {
  Tensor x = zeros({2, 6, 6, 3});
  Pool2dOptions o;
  o.kernel_size = 3;
  o.padding = 2;  // more than half the kernel
  CHECK_THROWS_WITH_AS(max_pool2d(x, o), doctest::Contains("max_pool2d"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, o), doctest::Contains("avg_pool2d"), Error);
  o.padding = 0;
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({6, 6, 3}), o), doctest::Contains("max_pool2d"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(zeros({6, 6, 3}), o), doctest::Contains("avg_pool2d"), Error);
  Pool2dOptions k0;
  k0.kernel_size = {0, 2};
  CHECK_THROWS_WITH_AS(max_pool2d(x, k0), doctest::Contains("max_pool2d"), Error);
  Pool2dOptions neg = o;
  neg.stride = -1;
  CHECK_THROWS_WITH_AS(max_pool2d(x, neg), doctest::Contains("stride"), Error);
  Pool2dOptions big;
  big.kernel_size = 7;  // larger than the 6x6 input
  CHECK_THROWS_WITH_AS(max_pool2d(x, big), doctest::Contains("max_pool2d: output size"), Error);
  Pool2dOptions dil = o;
  dil.dilation = 2;  // fine for max, meaningless for avg
  CHECK_NOTHROW(max_pool2d(x, dil));
  CHECK_THROWS_WITH_AS(avg_pool2d(x, dil), doctest::Contains("avg_pool2d"), Error);
  dil.dilation = 0;
  CHECK_THROWS_WITH_AS(max_pool2d(x, dil), doctest::Contains("dilation"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({2, 6, 6, 3}, DType::i64), o),
                       doctest::Contains("max_pool2d"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, {0, 1}), doctest::Contains("adaptive_avg_pool2d"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(zeros({6, 3}), 1),
                       doctest::Contains("adaptive_avg_pool2d"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(zeros({1, 0, 4, 3}), 1),
                       doctest::Contains("adaptive_avg_pool2d"), Error);
}

TEST_CASE("conv_out_size follows PyTorch, ceil mode included") {
  CHECK(conv_out_size(224, 7, 2, 3, 1) == 112);  // ResNet stem
  CHECK(conv_out_size(112, 3, 2, 1, 1) == 56);   // ResNet max pool
  CHECK(conv_out_size(56, 3, 1, 1, 1) == 56);
  CHECK(conv_out_size(56, 1, 2, 0, 1) == 28);  // downsample shortcut
  CHECK(conv_out_size(7, 3, 1, 0, 2) == 3);    // dilation 2: effective kernel 5
  CHECK(conv_out_size(4, 3, 1, 0, 3) == -2);   // does not fit: the op reports it
  CHECK(conv_out_size(5, 2, 2, 0, 1, false) == 2);
  CHECK(conv_out_size(5, 2, 2, 0, 1, true) == 3);
  // Ceil mode would add a window starting in the right padding; PyTorch drops it.
  CHECK(conv_out_size(5, 2, 2, 1, 1, false) == 3);
  CHECK(conv_out_size(5, 2, 2, 1, 1, true) == 3);
  CHECK(conv_out_size(6, 3, 2, 1, 1, true) == 4);
  CHECK_THROWS_AS(conv_out_size(5, 2, 0, 0, 1), Error);
}

TEST_CASE("conv2d output shapes") {
  struct Case {
    Shape x, w;
    Conv2dOptions o;
    Shape y;
  };
  Conv2dOptions s2p3;
  s2p3.stride = 2, s2p3.padding = 3;
  Conv2dOptions dw;
  dw.groups = 32, dw.padding = 1, dw.stride = 2;
  Conv2dOptions asym;
  asym.stride = {1, 2}, asym.padding = {0, 1}, asym.dilation = {2, 1};
  const std::vector<Case> cases = {
      {{2, 32, 32, 3}, {64, 7, 7, 3}, s2p3, {2, 16, 16, 64}},
      {{1, 9, 9, 32}, {64, 3, 3, 1}, dw, {1, 5, 5, 64}},
      {{1, 5, 7, 2}, {4, 3, 2, 2}, asym, {1, 1, 4, 4}},
      {{3, 4, 4, 8}, {16, 1, 1, 8}, {}, {3, 4, 4, 16}},
  };
  for (const Case& c : cases) {
    Tensor y = conv2d(zeros(c.x), zeros(c.w), Tensor(), c.o);
    CHECK(y.shape() == c.y);
  }
  Pool2dOptions p;
  p.kernel_size = 3, p.stride = 2, p.padding = 1;
  CHECK(max_pool2d(zeros({2, 112, 112, 4}), p).shape() == Shape{2, 56, 56, 4});
  p.ceil_mode = true;
  CHECK(avg_pool2d(zeros({1, 6, 6, 2}), p).shape() == Shape{1, 4, 4, 2});
  CHECK(adaptive_avg_pool2d(zeros({2, 7, 5, 3}), {3, 2}).shape() == Shape{2, 3, 2, 3});
}

TEST_CASE("conv2d by hand") {
  // x (1, 3, 3, 1) = 1..9, a 2x2 kernel of ones: each output is the sum of a 2x2 block.
  Tensor x = make({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  Tensor w = make({1, 1, 1, 1}, {1, 2, 2, 1});
  check_values(conv2d(x, w), {12, 16, 24, 28});
  // With padding 1, stride 2 and bias 10: the windows see one, two or four values.
  Conv2dOptions o;
  o.padding = 1, o.stride = 2;
  check_values(conv2d(x, w, make({10}, {1}), o), {11, 15, 21, 38});
  // Two input channels, two output channels; channels are innermost (NHWC / OKKC).
  Tensor x2 = make({1, 10, 2, 20}, {1, 1, 2, 2});  // pixel 0: (1, 10), pixel 1: (2, 20)
  Tensor w2 = make({1, 0, 0, 1, 0, 1, 1, 0}, {2, 1, 2, 2});
  // out 0 = x[p0,c0] + x[p1,c1] = 1 + 20; out 1 = x[p0,c1] + x[p1,c0] = 10 + 2
  check_values(conv2d(x2, w2), {21, 12});
  // Depthwise with channel multiplier 2: output channel 2c+m reads input channel c only.
  Conv2dOptions d;
  d.groups = 2;
  Tensor wd = make({1, 1, 2, 2, 3, 3, 4, 4}, {4, 1, 2, 1});
  check_values(conv2d(x2, wd, Tensor(), d), {1 + 2, 2 + 4, 30 + 60, 40 + 80});
}

TEST_CASE("pooling by hand") {
  // x (1, 4, 4, 1) = 0..15
  std::vector<double> v(16);
  for (int i = 0; i < 16; ++i) v[size_t(i)] = i;
  Tensor x = make(v, {1, 4, 4, 1});
  Pool2dOptions o;
  o.kernel_size = 2;
  check_values(max_pool2d(x, o), {5, 7, 13, 15});
  check_values(avg_pool2d(x, o), {2.5, 4.5, 10.5, 12.5});
  // Padding 1, stride 2, kernel 3: the top-left window holds 0, 1, 4, 5 and 5 pads.
  o.kernel_size = 3, o.stride = 2, o.padding = 1;
  check_values(avg_pool2d(x, o), {10.0 / 9, 24.0 / 9, 51.0 / 9, 90.0 / 9});
  o.count_include_pad = false;
  check_values(avg_pool2d(x, o), {10.0 / 4, 24.0 / 6, 51.0 / 6, 90.0 / 9});
  check_values(max_pool2d(x, o), {5, 7, 13, 15});
  check_values(adaptive_avg_pool2d(x, 1), {7.5});
  // 4 -> 3 bins: [0, 2), [1, 3), [2, 4) along each axis.
  check_values(adaptive_avg_pool2d(x, {3, 1}),
               {(0 + 1 + 2 + 3 + 4 + 5 + 6 + 7) / 8.0, (4 + 5 + 6 + 7 + 8 + 9 + 10 + 11) / 8.0,
                (8 + 9 + 10 + 11 + 12 + 13 + 14 + 15) / 8.0});
  // The max's gradient lands on the winning position only.
  Tensor xg = make(v, {1, 4, 4, 1});
  xg.set_requires_grad();
  Pool2dOptions k2;
  k2.kernel_size = 2;
  sum(max_pool2d(xg, k2)).backward();
  check_values(xg.grad(), {0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1});
}

TEST_CASE("max_pool2d: NaN wins and the first of equal maxima takes the gradient") {
  // x (1, 2, 2, C) holds 1, 3, 3, 2 in every channel, with a NaN at position 2 in every fifth
  // one; 37 channels run the vector loop and its remainder.
  const int64_t c = 37;
  for (DType dt : {DType::f32, DType::f64}) {
    INFO(dtype_name(dt));
    std::vector<double> v;
    for (int64_t pos = 0; pos < 4; ++pos)
      for (int64_t ch = 0; ch < c; ++ch)
        v.push_back(pos == 2 && ch % 5 == 0 ? std::nan("") : std::vector<double>{1, 3, 3, 2}[pos]);
    Tensor x = make(v, {1, 2, 2, c}, dt);
    x.set_requires_grad();
    Pool2dOptions o;
    o.kernel_size = 2;
    Tensor y = max_pool2d(x, o);
    sum(y).backward();
    const Tensor y64 = y.detach().to(DType::f64), g64 = x.grad().to(DType::f64);
    for (int64_t ch = 0; ch < c; ++ch) {
      const bool nan = ch % 5 == 0;
      INFO("channel ", ch);
      CHECK(std::isnan(y64.data<double>()[ch]) == nan);
      if (!nan) CHECK(y64.data<double>()[ch] == 3);
      for (int64_t pos = 0; pos < 4; ++pos)
        CHECK(g64.data<double>()[pos * c + ch] == (pos == (nan ? 2 : 1) ? 1.0 : 0.0));
    }
  }
}

TEST_CASE("conv2d float32 agrees with float64 on ResNet-sized shapes") {
  Generator g(7);
  struct Case {
    Shape x, w;
    Conv2dOptions o;
  };
  Conv2dOptions s1;
  s1.padding = 1;
  Conv2dOptions s2;
  s2.padding = 1, s2.stride = 2;
  Conv2dOptions dw;
  dw.padding = 1, dw.groups = 32;
  Conv2dOptions down;
  down.stride = 2;
  // A batch of 5 at 56x56x64 spans several im2col chunks, so chunk boundaries are exercised.
  const std::vector<Case> cases = {{{5, 56, 56, 64}, {64, 3, 3, 64}, s1},
                                   {{2, 28, 28, 64}, {128, 3, 3, 64}, s2},
                                   {{2, 28, 28, 64}, {128, 1, 1, 64}, down},
                                   {{2, 14, 14, 128}, {64, 1, 1, 128}, {}},
                                   {{2, 14, 14, 32}, {64, 3, 3, 1}, dw}};
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    Tensor x32 = randn(c.x, DType::f32, Device::cpu(), g);
    Tensor w32 = randn(c.w, DType::f32, Device::cpu(), g) * 0.1;
    Tensor b32 = randn({c.w[0]}, DType::f32, Device::cpu(), g);
    Tensor x64 = x32.to(DType::f64), w64 = w32.to(DType::f64), b64 = b32.to(DType::f64);
    for (Tensor* t : {&x32, &w32, &b32, &x64, &w64, &b64}) t->set_requires_grad();
    Tensor y32 = conv2d(x32, w32, b32, c.o), y64 = conv2d(x64, w64, b64, c.o);
    CHECK(max_rel_diff(y32, y64) < 1e-5);
    Tensor gy32 = randn(y32.shape(), DType::f32, Device::cpu(), g), gy64 = gy32.to(DType::f64);
    y32.backward(gy32);
    y64.backward(gy64);
    CHECK(max_rel_diff(x32.grad(), x64.grad()) < 1e-5);
    CHECK(max_rel_diff(w32.grad(), w64.grad()) < 1e-5);
    CHECK(max_rel_diff(b32.grad(), b64.grad()) < 1e-5);
  }
}

TEST_CASE("conv2d of a batch equals conv2d of each image") {
  Generator g(11);
  Conv2dOptions o;
  o.padding = 1;
  // 6 images of 56x56x64 in float64 fill more than one im2col chunk.
  Tensor x = randn({6, 56, 56, 64}, DType::f64, Device::cpu(), g);
  Tensor w = randn({32, 3, 3, 64}, DType::f64, Device::cpu(), g);
  Tensor y = conv2d(x, w, Tensor(), o);
  for (int64_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(max_rel_diff(y.slice(i, i + 1), conv2d(x.slice(i, i + 1), w, Tensor(), o)) < 1e-12);
  }
}

namespace {

// Direct loops in float64: y = conv2d(x, w) and, for an output gradient gy, the gradients of
// <gy, y> with respect to x and w. NHWC, weights (O, KH, KW, C/groups).
struct DirectConv {
  Tensor y, gx, gw;
};
DirectConv direct_conv(const Tensor& x, const Tensor& w, const Tensor& gy, const Conv2dOptions& o) {
  const Shape xs = x.shape(), ws = w.shape(), ys = gy.shape();
  const int64_t n = xs[0], h = xs[1], wd = xs[2], c = xs[3], oc = ws[0], kh = ws[1], kw = ws[2];
  const int64_t cg = ws[3], og = oc / o.groups, oh = ys[1], ow = ys[2];
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>(),
                            gyv = gy.to_vector<double>();
  std::vector<double> yv(size_t(n * oh * ow * oc), 0.0), gxv(xv.size(), 0.0), gwv(wv.size(), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t f = 0; f < oc; ++f) {
          const size_t yi = size_t(((b * oh + oy) * ow + ox) * oc + f);
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ih = oy * o.stride.h - o.padding.h + ky * o.dilation.h;
              const int64_t iw = ox * o.stride.w - o.padding.w + kx * o.dilation.w;
              if (ih < 0 || ih >= h || iw < 0 || iw >= wd) continue;
              for (int64_t j = 0; j < cg; ++j) {
                const size_t xi = size_t(((b * h + ih) * wd + iw) * c + (f / og) * cg + j);
                const size_t wi = size_t(((f * kh + ky) * kw + kx) * cg + j);
                yv[yi] += xv[xi] * wv[wi];
                gxv[xi] += gyv[yi] * wv[wi];
                gwv[wi] += gyv[yi] * xv[xi];
              }
            }
        }
  return {Tensor::from_vector(yv, {n, oh, ow, oc}), Tensor::from_vector(gxv, xs),
          Tensor::from_vector(gwv, ws)};
}

}  // namespace

// Shapes whose weight is small run in cache-sized bands of output rows (kernels/cpu/conv.cpp);
// these shapes are chosen to take that path: bands inside one image, bands spanning image
// boundaries, a stride, groups, and threads summing the weight gradient in lanes.
TEST_CASE("conv2d in cache-sized bands agrees with direct loops") {
  Generator g(5);
  struct Case {
    Shape x, w;
    Conv2dOptions o;
  };
  Conv2dOptions pad1;
  pad1.padding = 1;
  Conv2dOptions strided;
  strided.padding = {1, 2}, strided.stride = {2, 1}, strided.dilation = {1, 2};
  Conv2dOptions grouped;
  grouped.padding = 1, grouped.groups = 2;
  const std::vector<Case> cases = {{{4, 28, 28, 64}, {64, 3, 3, 64}, pad1},     // within images
                                   {{16, 7, 7, 64}, {48, 3, 3, 64}, pad1},      // across images
                                   {{3, 30, 26, 40}, {24, 5, 3, 40}, strided},  // stride, dilation
                                   {{4, 28, 28, 64}, {32, 3, 3, 32}, grouped}};
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.x));
    CAPTURE(shape_str(c.w));
    Tensor x = randn(c.x, DType::f64, Device::cpu(), g).set_requires_grad();
    Tensor w = randn(c.w, DType::f64, Device::cpu(), g).set_requires_grad();
    Tensor y = conv2d(x, w, Tensor(), c.o);
    Tensor gy = randn(y.shape(), DType::f64, Device::cpu(), g);
    y.backward(gy);
    const DirectConv want = direct_conv(x, w, gy, c.o);
    CHECK(max_rel_diff(y, want.y) < 1e-12);
    CHECK(max_rel_diff(x.grad(), want.gx) < 1e-12);
    CHECK(max_rel_diff(w.grad(), want.gw) < 1e-12);
  }
}

// The banded path's results depend on shapes only. (Where one large GEMM runs, Eigen's
// blocking follows the thread count, and so do the last bits.)
TEST_CASE("conv2d in bands gives the same bits on one thread as on three") {
  Generator g(9);
  Conv2dOptions o;
  o.padding = 1;
  for (const auto& [xs, ws] : std::vector<std::pair<Shape, Shape>>{
           {{16, 7, 7, 64}, {48, 3, 3, 64}}, {{4, 28, 28, 32}, {32, 3, 3, 32}}}) {
    CAPTURE(shape_str(ws));
    const Tensor x0 = randn(xs, DType::f32, Device::cpu(), g);
    const Tensor w0 = randn(ws, DType::f32, Device::cpu(), g);
    const Tensor gy = randn({xs[0], xs[1], xs[2], ws[0]}, DType::f32, Device::cpu(), g);
    std::vector<std::vector<float>> runs;
    const int before = cpu_threads();
    for (int threads : {1, 3}) {
      set_cpu_threads(threads);
      Tensor x = x0.clone().set_requires_grad(), w = w0.clone().set_requires_grad();
      Tensor y = conv2d(x, w, Tensor(), o);
      y.backward(gy);
      std::vector<float> all = y.to_vector<float>();
      for (const Tensor& t : {x.grad(), w.grad()}) {
        const std::vector<float> v = t.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      runs.push_back(all);
    }
    set_cpu_threads(before);
    CHECK(runs[0] == runs[1]);
  }
}

TEST_CASE("conv2d with a frozen weight computes no weight gradient") {
  Generator g(3);
  Tensor x = randn({2, 6, 6, 4}, DType::f64, Device::cpu(), g).set_requires_grad();
  Tensor w = randn({8, 3, 3, 4}, DType::f64, Device::cpu(), g);  // frozen
  Tensor b = randn({8}, DType::f64, Device::cpu(), g).set_requires_grad();
  Conv2dOptions o;
  o.padding = 1;
  sum(conv2d(x, w, b, o)).backward();
  CHECK_FALSE(w.grad().defined());
  CHECK(x.grad().defined());
  CHECK(b.grad().defined());
  CHECK(b.grad().shape() == Shape{8});
  // Every output pixel contributes 1 to each bias gradient: N*OH*OW = 72.
  check_values(b.grad(), std::vector<double>(8, 72.0));

  // Nothing requires grad: nothing is recorded.
  Tensor y = conv2d(x.detach(), w, Tensor(), o);
  CHECK_FALSE(y.requires_grad());
}

TEST_CASE("conv2d and pooling on float16 compute in float32 on the CPU") {
  Generator g(5);
  Tensor x = randn({1, 6, 6, 4}, DType::f32, Device::cpu(), g);
  Tensor w = randn({4, 3, 3, 4}, DType::f32, Device::cpu(), g);
  Tensor y = conv2d(x.to(DType::f16), w.to(DType::f16));
  CHECK(y.dtype() == DType::f16);
  CHECK(max_rel_diff(y, conv2d(x, w)) < 2e-2);
  Pool2dOptions o;
  o.kernel_size = 2;
  CHECK(max_pool2d(x.to(DType::f16), o).dtype() == DType::f16);
  CHECK(adaptive_avg_pool2d(x.to(DType::bf16), 1).dtype() == DType::bf16);
}
