// Op cases for conv2d, max_pool2d, avg_pool2d and adaptive_avg_pool2d. The references are
// deliberately naive (nested loops over host vectors in double, PyTorch's window rules written
// out from its documentation) so they share no code with the kernels they check.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "tools/opcheck/opcheck.h"

namespace whet::opcheck {

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) {
  return Tensor::from_vector(v, s, DType::f64);
}

// Output extent along one axis, from PyTorch's documented formula; in ceil mode a window that
// would start in the right padding is dropped.
int64_t ref_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const double span = double(in + 2 * p - d * (k - 1) - 1) / double(s);
  int64_t out = int64_t(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// Distinct values (a shuffled ramp over [-1, 1]) so no window holds two maxima within the
// finite-difference step of each other.
Tensor distinct(const Shape& s, Generator& g) {
  std::vector<double> keys = rand(s, DType::f64, Device::cpu(), g).to_vector<double>();
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<double> v(keys.size());
  for (size_t r = 0; r < order.size(); ++r)
    v[order[r]] = -1.0 + 2.0 * double(r) / double(order.size());
  return f64(v, s).set_requires_grad(true);
}

// ---- conv2d ----

// y[n, oy, ox, oc] = b[oc] + sum over ky, kx, ci of
//   x[n, oy*sh - ph + ky*dh, ox*sw - pw + kx*dw, g*Cg + ci] * w[oc, ky, kx, ci], g = oc / Og.
Tensor ref_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const std::vector<double> xs = x.to_vector<double>(), ws = w.to_vector<double>();
  const std::vector<double> bs = b.defined() ? b.to_vector<double>() : std::vector<double>();
  const int64_t n = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  const int64_t oc_n = w.size(0), kh = w.size(1), kw = w.size(2), cg = w.size(3);
  const int64_t og = oc_n / o.groups;
  const int64_t oh = ref_out_size(h, kh, o.stride.h, o.padding.h, o.dilation.h, false);
  const int64_t ow = ref_out_size(wd, kw, o.stride.w, o.padding.w, o.dilation.w, false);
  std::vector<double> y(size_t(n * oh * ow * oc_n));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t oc = 0; oc < oc_n; ++oc) {
          double acc = bs.empty() ? 0.0 : bs[size_t(oc)];
          const int64_t grp = oc / og;
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx)
              for (int64_t ci = 0; ci < cg; ++ci) {
                const int64_t iy = oy * o.stride.h - o.padding.h + ky * o.dilation.h;
                const int64_t ix = ox * o.stride.w - o.padding.w + kx * o.dilation.w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += xs[size_t(((in * h + iy) * wd + ix) * c + grp * cg + ci)] *
                       ws[size_t(((oc * kh + ky) * kw + kx) * cg + ci)];
              }
          y[size_t(((in * oh + oy) * ow + ox) * oc_n + oc)] = acc;
        }
  return f64(y, {n, oh, ow, oc_n});
}

struct ConvSpec {
  std::string label;
  Shape x, w;
  Conv2dOptions o;
  bool bias = true;
  bool x_grad = true, w_grad = true;
};

void add_conv(std::vector<OpCase>& cases, const ConvSpec& s) {
  OpCase oc;
  oc.op = "conv2d";
  oc.label = s.label;
  oc.inputs = [s](Generator& g) {
    std::vector<Tensor> in{s.x_grad ? input(s.x, g) : fixed(s.x, g),
                           s.w_grad ? input(s.w, g) : fixed(s.w, g)};
    if (s.bias) in.push_back(input({s.w[0]}, g));
    return in;
  };
  oc.fn = [s](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], s.bias ? in[2] : Tensor(), s.o);
  };
  oc.reference = [s](const std::vector<Tensor>& in) {
    return ref_conv2d(in[0], in[1], s.bias ? in[2] : Tensor(), s.o);
  };
  cases.push_back(oc);
}

Conv2dOptions conv_opts(Int2 stride, Int2 padding, Int2 dilation = 1, int groups = 1) {
  Conv2dOptions o;
  o.stride = stride, o.padding = padding, o.dilation = dilation, o.groups = groups;
  return o;
}

// ---- pooling ----

Pool2dOptions pool_opts(Int2 kernel, Int2 stride, Int2 padding, Int2 dilation = 1,
                        bool ceil_mode = false, bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel_size = kernel, o.stride = stride, o.padding = padding, o.dilation = dilation;
  o.ceil_mode = ceil_mode, o.count_include_pad = count_include_pad;
  return o;
}

Shape pool_out_shape(const Tensor& x, const Pool2dOptions& o) {
  const Int2 s = o.effective_stride();
  return {x.size(0),
          ref_out_size(x.size(1), o.kernel_size.h, s.h, o.padding.h, o.dilation.h, o.ceil_mode),
          ref_out_size(x.size(2), o.kernel_size.w, s.w, o.padding.w, o.dilation.w, o.ceil_mode),
          x.size(3)};
}

// Calls f(at, n, c, y0, x0) for every output element: `at` its flat index, (y0, x0) its
// window's top-left corner in unpadded input coordinates (negative inside the padding).
template <class F>
void for_each_window(const Shape& ys, const Pool2dOptions& o, F f) {
  const Int2 s = o.effective_stride();
  const int64_t n = ys[0], oh = ys[1], ow = ys[2], c = ys[3];
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t ch = 0; ch < c; ++ch)
          f(((in * oh + oy) * ow + ox) * c + ch, in, ch, oy * s.h - o.padding.h,
            ox * s.w - o.padding.w);
}

// Max over the window's in-bounds positions (padding never wins).
Tensor ref_max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  const std::vector<double> xs = x.to_vector<double>();
  const int64_t h = x.size(1), w = x.size(2), c = x.size(3);
  const Shape ys = pool_out_shape(x, o);
  std::vector<double> y(size_t(numel(ys)));
  for_each_window(ys, o, [&](int64_t at, int64_t n, int64_t ch, int64_t y0, int64_t x0) {
    double best = -std::numeric_limits<double>::infinity();
    for (int64_t ky = 0; ky < o.kernel_size.h; ++ky)
      for (int64_t kx = 0; kx < o.kernel_size.w; ++kx) {
        const int64_t iy = y0 + ky * o.dilation.h, ix = x0 + kx * o.dilation.w;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        best = std::max(best, xs[size_t(((n * h + iy) * w + ix) * c + ch)]);
      }
    y[size_t(at)] = best;
  });
  return f64(y, ys);
}

// Sum over the window's in-bounds positions, divided by: with count_include_pad, the window
// positions inside the padded input (padding counts, the area past it in ceil mode does not);
// without, the in-bounds positions only.
Tensor ref_avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  const std::vector<double> xs = x.to_vector<double>();
  const int64_t h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t ph = o.padding.h, pw = o.padding.w;
  const Shape ys = pool_out_shape(x, o);
  std::vector<double> y(size_t(numel(ys)));
  for_each_window(ys, o, [&](int64_t at, int64_t n, int64_t ch, int64_t y0, int64_t x0) {
    double total = 0;
    int64_t inside = 0, padded = 0;
    for (int64_t ky = 0; ky < o.kernel_size.h; ++ky)
      for (int64_t kx = 0; kx < o.kernel_size.w; ++kx) {
        const int64_t iy = y0 + ky, ix = x0 + kx;
        if (iy < h + ph && ix < w + pw) ++padded;  // never left of -pad: windows start there
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        total += xs[size_t(((n * h + iy) * w + ix) * c + ch)];
        ++inside;
      }
    y[size_t(at)] = total / double(o.count_include_pad ? padded : inside);
  });
  return f64(y, ys);
}

// Bin i of `out` over `in` covers [floor(i*in/out), ceil((i+1)*in/out)).
Tensor ref_adaptive_avg_pool2d(const Tensor& x, Int2 out) {
  const std::vector<double> xs = x.to_vector<double>();
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  std::vector<double> y(size_t(n * out.h * out.w * c));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t ch = 0; ch < c; ++ch) {
          const auto y0 = int64_t(std::floor(double(oy * h) / out.h));
          const auto y1 = int64_t(std::ceil(double((oy + 1) * h) / out.h));
          const auto x0 = int64_t(std::floor(double(ox * w) / out.w));
          const auto x1 = int64_t(std::ceil(double((ox + 1) * w) / out.w));
          double total = 0;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix)
              total += xs[size_t(((in * h + iy) * w + ix) * c + ch)];
          y[size_t(((in * out.h + oy) * out.w + ox) * c + ch)] =
              total / double((y1 - y0) * (x1 - x0));
        }
  return f64(y, {n, out.h, out.w, c});
}

void add_max_pool(std::vector<OpCase>& cases, const std::string& label, const Shape& x,
                  const Pool2dOptions& o) {
  OpCase oc;
  oc.op = "max_pool2d";
  oc.label = label;
  oc.inputs = [x](Generator& g) { return std::vector<Tensor>{distinct(x, g)}; };
  oc.fn = [o](const std::vector<Tensor>& in) { return max_pool2d(in[0], o); };
  oc.reference = [o](const std::vector<Tensor>& in) { return ref_max_pool2d(in[0], o); };
  cases.push_back(oc);
}

void add_avg_pool(std::vector<OpCase>& cases, const std::string& label, const Shape& x,
                  const Pool2dOptions& o) {
  OpCase oc;
  oc.op = "avg_pool2d";
  oc.label = label;
  oc.inputs = [x](Generator& g) { return std::vector<Tensor>{input(x, g)}; };
  oc.fn = [o](const std::vector<Tensor>& in) { return avg_pool2d(in[0], o); };
  oc.reference = [o](const std::vector<Tensor>& in) { return ref_avg_pool2d(in[0], o); };
  cases.push_back(oc);
}

void add_adaptive(std::vector<OpCase>& cases, const std::string& label, const Shape& x, Int2 out) {
  OpCase oc;
  oc.op = "adaptive_avg_pool2d";
  oc.label = label;
  oc.inputs = [x](Generator& g) { return std::vector<Tensor>{input(x, g)}; };
  oc.fn = [out](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], out); };
  oc.reference = [out](const std::vector<Tensor>& in) {
    return ref_adaptive_avg_pool2d(in[0], out);
  };
  cases.push_back(oc);
}

}  // namespace

void add_conv_pool_cases(std::vector<OpCase>& cases) {
  // conv2d: x (N, H, W, C), w (O, KH, KW, C/groups)
  add_conv(cases, {"3x3, stride 1, pad 1, odd 5x7", {2, 5, 7, 3}, {4, 3, 3, 3}, conv_opts(1, 1)});
  add_conv(cases,
           {"3x3, stride 2, pad 0, no bias", {1, 7, 6, 2}, {3, 3, 3, 2}, conv_opts(2, 0), false});
  add_conv(cases, {"3x3, pad 2", {1, 4, 5, 2}, {2, 3, 3, 2}, conv_opts(1, 2)});
  add_conv(cases,
           {"3x3, dilation 2, pad 2, stride 2", {1, 7, 7, 2}, {3, 3, 3, 2}, conv_opts(2, 2, 2)});
  add_conv(cases, {"groups 2, pad 1", {1, 5, 5, 4}, {6, 3, 3, 2}, conv_opts(1, 1, 1, 2)});
  add_conv(cases, {"depthwise, pad 1", {2, 5, 6, 3}, {3, 3, 3, 1}, conv_opts(1, 1, 1, 3)});
  add_conv(cases, {"depthwise, multiplier 2, stride 2, no bias",
                   {1, 6, 5, 3},
                   {6, 3, 3, 1},
                   conv_opts(2, 1, 1, 3),
                   false});
  add_conv(cases, {"depthwise, dilation 2, stride (1, 2)",
                   {1, 7, 7, 2},
                   {4, 3, 3, 1},
                   conv_opts({1, 2}, 2, 2, 2)});
  add_conv(cases, {"1x1", {2, 4, 3, 5}, {3, 1, 1, 5}, conv_opts(1, 0)});
  add_conv(cases, {"1x1, stride 2, no bias", {1, 5, 5, 4}, {3, 1, 1, 4}, conv_opts(2, 0), false});
  add_conv(cases, {"1x1, groups 2", {1, 3, 4, 4}, {6, 1, 1, 2}, conv_opts(1, 0, 1, 2)});
  add_conv(cases, {"2x3 kernel, stride (2, 1), pad (1, 0)",
                   {1, 5, 7, 2},
                   {3, 2, 3, 2},
                   conv_opts({2, 1}, {1, 0})});
  add_conv(cases, {"stride (1, 2), pad (0, 2), dilation (1, 2)",
                   {1, 5, 7, 2},
                   {2, 3, 3, 2},
                   conv_opts({1, 2}, {0, 2}, {1, 2})});
  add_conv(cases, {"7x7 stem-like, stride 2, pad 3", {1, 9, 8, 3}, {2, 7, 7, 3}, conv_opts(2, 3)});
  add_conv(cases,
           {"frozen weight", {1, 4, 5, 3}, {2, 3, 3, 3}, conv_opts(1, 1), true, true, false});
  add_conv(cases, {"frozen input", {1, 4, 5, 3}, {2, 3, 3, 3}, conv_opts(2, 1), true, false, true});

  // max_pool2d: stride 0 means the kernel size
  add_max_pool(cases, "2x2, default stride", {2, 4, 6, 3}, pool_opts(2, 0, 0));
  add_max_pool(cases, "3x3, stride 2, pad 1", {1, 7, 7, 2}, pool_opts(3, 2, 1));
  add_max_pool(cases, "3x3, pad 1, dilation 2", {1, 6, 7, 2}, pool_opts(3, 1, 1, 2));
  add_max_pool(cases, "3x3, stride 2, ceil mode", {1, 6, 6, 2}, pool_opts(3, 2, 0, 1, true));
  add_max_pool(cases, "2x2, stride 2, pad 1, ceil mode", {1, 5, 5, 2}, pool_opts(2, 2, 1, 1, true));
  add_max_pool(cases, "2x3 kernel, stride (1, 2), pad (1, 0)", {1, 5, 7, 2},
               pool_opts({2, 3}, {1, 2}, {1, 0}));

  // avg_pool2d
  add_avg_pool(cases, "2x2, default stride", {2, 4, 6, 3}, pool_opts(2, 0, 0));
  add_avg_pool(cases, "3x3, stride 2, pad 1, count_include_pad", {1, 7, 7, 2}, pool_opts(3, 2, 1));
  add_avg_pool(cases, "3x3, stride 2, pad 1, exclude pad", {1, 7, 7, 2},
               pool_opts(3, 2, 1, 1, false, false));
  add_avg_pool(cases, "3x3, stride 2, ceil mode", {1, 6, 6, 2}, pool_opts(3, 2, 0, 1, true));
  add_avg_pool(cases, "3x3, stride 2, pad 1, ceil mode, count_include_pad", {1, 6, 5, 2},
               pool_opts(3, 2, 1, 1, true, true));
  add_avg_pool(cases, "3x3, stride 2, pad 1, ceil mode, exclude pad", {1, 6, 5, 2},
               pool_opts(3, 2, 1, 1, true, false));
  add_avg_pool(cases, "3x2 kernel, stride (2, 1), pad (1, 0)", {1, 5, 4, 2},
               pool_opts({3, 2}, {2, 1}, {1, 0}));

  // adaptive_avg_pool2d
  add_adaptive(cases, "to 1x1", {2, 4, 5, 3}, 1);
  add_adaptive(cases, "7x5 to 3x2 (uneven bins)", {1, 7, 5, 2}, {3, 2});
  add_adaptive(cases, "4x6 to 2x3 (even bins)", {2, 4, 6, 2}, {2, 3});
  add_adaptive(cases, "3x3 to 4x4 (overlapping bins)", {1, 3, 3, 2}, 4);
}

}  // namespace whet::opcheck
