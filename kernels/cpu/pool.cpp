// Max, average and adaptive average pooling over NHWC, following PyTorch's window rules.
// Channels are innermost, so every window position is a contiguous run of C values and the
// inner loops run over channels. Forward passes split output rows across threads; backward
// passes scatter into overlapping windows, so they split by image instead.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {

// Values touched per task below which a loop stays serial: waking a thread team costs
// microseconds, more than summing a few thousand values.
constexpr int64_t kMinWork = int64_t(1) << 15;
// The grain (tasks per thread) for tasks of `work` values each.
inline int64_t grain(int64_t work) {
  return std::max<int64_t>(1, kMinWork / std::max<int64_t>(1, work));
}

struct Geom {
  int64_t n, h, w, c;  // input (N, H, W, C)
  int64_t oh, ow;      // output (N, OH, OW, C)
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

Geom geom(const Shape& x, const Shape& y, const Pool2dOptions& o) {
  const Int2 s = o.effective_stride();
  Geom g;
  g.n = x[0], g.h = x[1], g.w = x[2], g.c = x[3];
  g.oh = y[1], g.ow = y[2];
  g.kh = o.kernel_size.h, g.kw = o.kernel_size.w, g.sh = s.h, g.sw = s.w;
  g.ph = o.padding.h, g.pw = o.padding.w, g.dh = o.dilation.h, g.dw = o.dilation.w;
  return g;
}

// PyTorch's avg_pool2d window: the divisor counts padded positions (count_include_pad) but
// never positions past the padded edge, which ceil_mode's last window can reach.
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // the clipped window [h0, h1) x [w0, w1)
  int64_t divisor;
};

AvgWindow avg_window(const Geom& g, int64_t oy, int64_t ox, bool count_include_pad) {
  int64_t h0 = oy * g.sh - g.ph, w0 = ox * g.sw - g.pw;
  int64_t h1 = std::min(h0 + g.kh, g.h + g.ph), w1 = std::min(w0 + g.kw, g.w + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.h), w1 = std::min(w1, g.w);
  return {h0, h1, w0, w1, count_include_pad ? padded : (h1 - h0) * (w1 - w0)};
}

// PyTorch's adaptive bin i of `out` over `in`: [floor(i*in/out), ceil((i+1)*in/out)).
inline int64_t bin_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
inline int64_t bin_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// y, idx = x, pos where x beats y (channel by channel): NaN wins, and the first of equal
// maxima is kept, as in PyTorch. Written without branches so that it vectorises.
template <class T>
inline void take_max(const T* __restrict x, int64_t pos, int64_t c, T* __restrict y,
                     int64_t* __restrict idx) {
  for (int64_t i = 0; i < c; ++i) {
    const T v = x[i], cur = y[i];
    const bool take = v > cur || v != v;
    y[i] = take ? v : cur;
    idx[i] = take ? pos : idx[i];
  }
}

template <class T>
void max_pool_forward(const Geom& g, const T* x, T* y, int64_t* idx) {
  parallel_for(g.n * g.oh, grain(g.ow * g.c * g.kh * g.kw), [&](int64_t r) {
    const int64_t n = r / g.oh, oy = r % g.oh;
    const T* xn = x + n * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      T* yp = y + (r * g.ow + ox) * g.c;
      int64_t* ip = idx + (r * g.ow + ox) * g.c;
      // Padding counts as -inf; -1 marks a window with no input position (possible only
      // with dilation), which backward skips.
      std::fill(yp, yp + g.c, -std::numeric_limits<T>::infinity());
      std::fill(ip, ip + g.c, int64_t(-1));
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iw = ox * g.sw - g.pw + kx * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          const int64_t pos = ih * g.w + iw;
          take_max(xn + pos * g.c, pos, g.c, yp, ip);
        }
      }
    }
  });
}

template <class T>
void max_pool_backward(const T* gy, const int64_t* idx, int64_t n, int64_t out_plane,
                       int64_t in_plane, int64_t c, T* gx) {
  parallel_for(n, grain(out_plane * c), [&](int64_t i) {
    T* gxn = gx + i * in_plane * c;
    std::fill(gxn, gxn + in_plane * c, T(0));  // each image's own, in its task
    const T* gp = gy + i * out_plane * c;
    const int64_t* ip = idx + i * out_plane * c;
    for (int64_t q = 0; q < out_plane * c; q += c)
      for (int64_t ch = 0; ch < c; ++ch)
        if (ip[q + ch] >= 0) gxn[ip[q + ch] * c + ch] += gp[q + ch];
  });
}

template <class T>
void avg_pool_forward(const Geom& g, bool include_pad, const T* x, T* y) {
  parallel_for(g.n * g.oh, grain(g.ow * g.c * g.kh * g.kw), [&](int64_t r) {
    const int64_t n = r / g.oh, oy = r % g.oh;
    const T* xn = x + n * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      T* yp = y + (r * g.ow + ox) * g.c;
      const AvgWindow win = avg_window(g, oy, ox, include_pad);
      std::fill(yp, yp + g.c, T(0));
      for (int64_t ih = win.h0; ih < win.h1; ++ih)
        for (int64_t iw = win.w0; iw < win.w1; ++iw) {
          const T* xp = xn + (ih * g.w + iw) * g.c;
          for (int64_t c = 0; c < g.c; ++c) yp[c] += xp[c];
        }
      const T scale = win.divisor > 0 ? T(1) / T(win.divisor) : T(0);
      for (int64_t c = 0; c < g.c; ++c) yp[c] *= scale;
    }
  });
}

template <class T>
void avg_pool_backward(const Geom& g, bool include_pad, const T* gy, T* gx) {
  std::fill(gx, gx + g.n * g.h * g.w * g.c, T(0));
  parallel_for(g.n, grain(g.oh * g.ow * g.c * g.kh * g.kw), [&](int64_t n) {
    T* gxn = gx + n * g.h * g.w * g.c;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* gp = gy + ((n * g.oh + oy) * g.ow + ox) * g.c;
        const AvgWindow win = avg_window(g, oy, ox, include_pad);
        const T scale = win.divisor > 0 ? T(1) / T(win.divisor) : T(0);
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) {
            T* xp = gxn + (ih * g.w + iw) * g.c;
            for (int64_t c = 0; c < g.c; ++c) xp[c] += gp[c] * scale;
          }
      }
  });
}

template <class T>
void adaptive_forward(const Geom& g, const T* x, T* y) {
  // Each output row reads about a 1/OH share of the image.
  parallel_for(g.n * g.oh, grain(g.h * g.w * g.c / g.oh + g.ow * g.c), [&](int64_t r) {
    const int64_t n = r / g.oh, oy = r % g.oh;
    const int64_t h0 = bin_start(oy, g.h, g.oh), h1 = bin_end(oy, g.h, g.oh);
    const T* xn = x + n * g.h * g.w * g.c;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t w0 = bin_start(ox, g.w, g.ow), w1 = bin_end(ox, g.w, g.ow);
      T* yp = y + (r * g.ow + ox) * g.c;
      std::fill(yp, yp + g.c, T(0));
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) {
          const T* xp = xn + (ih * g.w + iw) * g.c;
          for (int64_t c = 0; c < g.c; ++c) yp[c] += xp[c];
        }
      const T scale = T(1) / T((h1 - h0) * (w1 - w0));
      for (int64_t c = 0; c < g.c; ++c) yp[c] *= scale;
    }
  });
}

template <class T>
void adaptive_backward(const Geom& g, const T* gy, T* gx) {
  std::fill(gx, gx + g.n * g.h * g.w * g.c, T(0));
  parallel_for(g.n, grain(g.h * g.w * g.c + g.oh * g.ow * g.c), [&](int64_t n) {
    T* gxn = gx + n * g.h * g.w * g.c;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t h0 = bin_start(oy, g.h, g.oh), h1 = bin_end(oy, g.h, g.oh);
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t w0 = bin_start(ox, g.w, g.ow), w1 = bin_end(ox, g.w, g.ow);
        const T* gp = gy + ((n * g.oh + oy) * g.ow + ox) * g.c;
        const T scale = T(1) / T((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            T* xp = gxn + (ih * g.w + iw) * g.c;
            for (int64_t c = 0; c < g.c; ++c) xp[c] += gp[c] * scale;
          }
      }
    }
  });
}

}  // namespace

void max_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y, Tensor& indices) {
  const Geom g = geom(x.shape(), y.shape(), o);
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_forward(g, x.data<T>(), y.data<T>(), indices.data<int64_t>());
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  dispatch_float(gy.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool_backward(gy.data<T>(), indices.data<int64_t>(), gx.size(0), gy.size(1) * gy.size(2),
                      gx.size(1) * gx.size(2), gx.size(3), gx.data<T>());
  });
}

void avg_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y) {
  const Geom g = geom(x.shape(), y.shape(), o);
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool_forward(g, o.count_include_pad, x.data<T>(), y.data<T>());
  });
}

void avg_pool2d_backward(const Tensor& gy, const Pool2dOptions& o, Tensor& gx) {
  const Geom g = geom(gx.shape(), gy.shape(), o);
  dispatch_float(gy.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool_backward(g, o.count_include_pad, gy.data<T>(), gx.data<T>());
  });
}

void adaptive_avg_pool2d(const Tensor& x, Tensor& y) {
  const Geom g = geom(x.shape(), y.shape(), Pool2dOptions{});
  dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    adaptive_forward(g, x.data<T>(), y.data<T>());
  });
}

void adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx) {
  const Geom g = geom(gx.shape(), gy.shape(), Pool2dOptions{});
  dispatch_float(gy.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    adaptive_backward(g, gy.data<T>(), gx.data<T>());
  });
}

}  // namespace whet::cpu
