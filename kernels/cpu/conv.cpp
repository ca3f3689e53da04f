// 2-D convolution over NHWC: im2col + GEMM per group, a copy-free GEMM for 1x1 stride-1
// convolutions, and direct loops for depthwise convolution (groups == C).
//
// NHWC makes one im2col row (an output pixel's receptive field, KH*KW*Cg values) a sequence
// of contiguous channel runs, so im2col is a series of memcpy calls and the GEMM output
// (pixels, O) is already the NHWC output. Images are processed in chunks so the column
// buffer stays bounded while each GEMM still sees thousands of rows.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/scratch.h"

namespace whet::cpu {

namespace {

// Bytes of im2col buffer per chunk: GEMMs still see thousands of rows, while the buffer
// stays small next to the activations (larger chunks measured slower, not faster).
constexpr int64_t kColumnBytes = int64_t(16) << 20;
// Values touched per task below which a loop stays serial: waking a thread team costs
// microseconds, more than copying a few thousand values.
constexpr int64_t kMinWork = int64_t(1) << 15;
// The grain (tasks per thread) for tasks of `work` values each.
inline int64_t grain(int64_t work) {
  return std::max<int64_t>(1, kMinWork / std::max<int64_t>(1, work));
}

// Extents and options of one convolution, read from the three shapes once.
struct Geom {
  int64_t n, h, w, c;     // input (N, H, W, C)
  int64_t o, kh, kw, cg;  // weight (O, KH, KW, C/groups)
  int64_t oh, ow;         // output (N, OH, OW, O)
  int64_t sh, sw, ph, pw, dh, dw, groups, og;

  int64_t k() const { return kh * kw * cg; }  // GEMM reduction length of one group
  int64_t p() const { return oh * ow; }       // output pixels per image
  // A 1x1, stride-1, unpadded convolution: the input itself is the column matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  bool depthwise() const { return groups > 1 && cg == 1; }
  // Images per chunk so that the column buffer of one group fits kColumnBytes.
  int64_t chunk(size_t elem) const {
    int64_t per_image = std::max<int64_t>(1, p() * k() * int64_t(elem));
    return std::max<int64_t>(1, std::min(n, kColumnBytes / per_image));
  }
};

Geom geom(const Shape& x, const Shape& w, const Shape& y, const Conv2dOptions& o) {
  Geom g;
  g.n = x[0], g.h = x[1], g.w = x[2], g.c = x[3];
  g.o = w[0], g.kh = w[1], g.kw = w[2], g.cg = w[3];
  g.oh = y[1], g.ow = y[2];
  g.sh = o.stride.h, g.sw = o.stride.w, g.ph = o.padding.h, g.pw = o.padding.w;
  g.dh = o.dilation.h, g.dw = o.dilation.w, g.groups = o.groups, g.og = w[0] / o.groups;
  return g;
}

// Runs f(i) for i in [0, n): across threads when `parallel`, else on this thread (inside a
// task that already has its own).
template <class F>
void rows_loop(bool parallel, int64_t n, int64_t task_grain, F&& f) {
  if (parallel) {
    parallel_for(n, task_grain, f);
  } else {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
}

// dst[0, n) = src[0, n). Channel runs are as short as one value (a grayscale stem), where a
// memcpy call costs more than the copy: short runs copy inline.
template <class T>
inline void copy_run(T* __restrict dst, const T* __restrict src, int64_t n) {
  if (n * int64_t(sizeof(T)) > 64) {
    std::memcpy(dst, src, size_t(n) * sizeof(T));
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// Output rows are counted across the batch: row r is output row r % OH of image r / OH.
// col (rows*OW, K) = the receptive fields of output rows [r0, r0+rows), channels of group `grp`.
template <class T>
void im2col(const Geom& g, const T* x, int64_t r0, int64_t rows, int64_t grp, T* col,
            bool parallel) {
  const int64_t k = g.k(), run = g.kw * g.cg;
  // Stride-free rows along kw: one memcpy covers the whole kernel row when it is inside.
  const bool whole_rows = g.dw == 1 && g.cg == g.c;
  rows_loop(parallel, rows, grain(g.ow * k), [&](int64_t i) {
    const int64_t r = r0 + i, oy = r % g.oh;
    const T* xn = x + (r / g.oh) * g.h * g.w * g.c + grp * g.cg;
    T* dst = col + i * g.ow * k;
    for (int64_t ox = 0; ox < g.ow; ++ox, dst += k) {
      const int64_t iw0 = ox * g.sw - g.pw;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        T* d = dst + ky * run;
        const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
        if (ih < 0 || ih >= g.h) {
          std::fill(d, d + run, T(0));
          continue;
        }
        const T* xrow = xn + ih * g.w * g.c;
        if (whole_rows && iw0 >= 0 && iw0 + g.kw <= g.w) {
          copy_run(d, xrow + iw0 * g.c, run);
          continue;
        }
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iw = iw0 + kx * g.dw;
          if (iw < 0 || iw >= g.w)
            std::fill(d + kx * g.cg, d + (kx + 1) * g.cg, T(0));
          else
            copy_run(d + kx * g.cg, xrow + iw * g.c, g.cg);
        }
      }
    }
  });
}

// gx (channels of group `grp`) += col2im(gcol (rows*OW, K)) for output rows [r0, r0+rows);
// gx pre-zeroed. For a fixed ky, distinct output rows read distinct input rows, so rows run
// in parallel without two threads adding into one place.
template <class T>
void col2im_add(const Geom& g, const T* gcol, int64_t r0, int64_t rows, int64_t grp, T* gx,
                bool parallel) {
  const int64_t k = g.k(), run = g.kw * g.cg;
  const bool whole_rows = g.dw == 1 && g.cg == g.c;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    rows_loop(parallel, rows, grain(g.ow * run), [&](int64_t i) {
      const int64_t r = r0 + i, oy = r % g.oh;
      const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
      if (ih < 0 || ih >= g.h) return;
      T* xrow = gx + ((r / g.oh) * g.h + ih) * g.w * g.c + grp * g.cg;
      const T* src = gcol + i * g.ow * k + ky * run;
      for (int64_t ox = 0; ox < g.ow; ++ox, src += k) {
        const int64_t iw0 = ox * g.sw - g.pw;
        if (whole_rows && iw0 >= 0 && iw0 + g.kw <= g.w) {
          T* d = xrow + iw0 * g.c;
          for (int64_t j = 0; j < run; ++j) d[j] += src[j];
          continue;
        }
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iw = iw0 + kx * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          T* d = xrow + iw * g.c;
          const T* src_k = src + kx * g.cg;
          for (int64_t j = 0; j < g.cg; ++j) d[j] += src_k[j];
        }
      }
    });
  }
}

// rows (count, width) = 0, in parallel: col2im and the depthwise scatter add into it.
template <class T>
void zero_rows(T* rows, int64_t count, int64_t width) {
  parallel_for(count, grain(width),
               [&](int64_t i) { std::fill(rows + i * width, rows + (i + 1) * width, T(0)); });
}

// y rows (count, O) += bias. A pass after the GEMM rather than beta = 1, which would make
// the GEMM evaluate its product into a temporary first.
template <class T>
void add_bias(const T* bias, int64_t o, int64_t count, T* y) {
  parallel_for(count, grain(o), [&](int64_t i) {
    T* row = y + i * o;
    for (int64_t j = 0; j < o; ++j) row[j] += bias[j];
  });
}

// ---- GEMM paths (groups < C) ----

// Cache-sized bands. A convolution with a small weight (K * Og values: small_cnn's layers,
// ResNet's first stage) spends as long building its column matrix as multiplying it. There,
// bands of output rows are built and consumed while they sit in the core's L2: each task runs
// im2col (or col2im) and a GEMM for its bands on one thread, instead of writing a chunk-sized
// matrix to memory for a multi-threaded GEMM to read back. Which path runs, the bands and
// the weight gradient's partial sums depend on the shapes alone, never on the thread count,
// so results do not either.
constexpr int64_t kBandBytes = int64_t(512) << 10;        // a band's column matrix
constexpr int64_t kSmallWeightBytes = int64_t(1) << 20;  // repacked for every band
constexpr int64_t kMinTasks = 4;  // fewer would leave threads idle: one large GEMM instead
constexpr int64_t kLanes = 16;    // partial sums of the weight gradient (threads used at most)

struct Bands {
  int64_t rows;            // output rows per band (across images: see im2col)
  int64_t images_per_task; // backward-input tasks own whole images, so no two add into one
};

// Bands for this convolution, or {0, 0} where one large GEMM serves better (a large weight,
// or too few bands to share among threads).
Bands bands(const Geom& g, size_t elem, bool whole_images) {
  if (g.og * g.k() * int64_t(elem) > kSmallWeightBytes) return {0, 0};
  const int64_t rows =
      std::clamp<int64_t>(kBandBytes / (g.ow * g.k() * int64_t(elem)), 1, g.n * g.oh);
  const int64_t images = std::max<int64_t>(1, rows / g.oh);
  const int64_t tasks = whole_images ? (g.n + images - 1) / images : (g.n * g.oh + rows - 1) / rows;
  if (tasks < kMinTasks) return {0, 0};
  return {rows, images};
}

template <class T>
void forward_gemm(const Geom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t k = g.k(), p = g.p();
  if (g.pointwise()) {
    // y_g (N*H*W, Og) = x_g (N*H*W, Cg) @ w_g^T (Cg, Og)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, true, g.n * p, g.og, k, T(1), x + grp * g.cg, g.c, w + grp * g.og * k, k, T(0),
              y + grp * g.og, g.o);
    if (bias) add_bias(bias, g.o, g.n * p, y);
    return;
  }
  // y_g (rows*OW, Og) = col (rows*OW, K) @ w_g^T (K, Og) for output rows [r0, r0+rows).
  auto band = [&](int64_t r0, int64_t rows, T* col, bool parallel) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      im2col(g, x, r0, rows, grp, col, parallel);
      gemm<T>(false, true, rows * g.ow, g.og, k, T(1), col, k, w + grp * g.og * k, k, T(0),
              y + r0 * g.ow * g.o + grp * g.og, g.o);
    }
  };
  if (const Bands b = bands(g, sizeof(T), /*whole_images=*/false); b.rows > 0) {
    const int64_t total = g.n * g.oh, per_slot = b.rows * g.ow * k;
    Scratch<T> cols(size_t(max_threads() * per_slot));  // written by im2col before any read
    parallel_tasks((total + b.rows - 1) / b.rows, [&](int64_t t, int slot) {
      const int64_t r0 = t * b.rows;
      band(r0, std::min(b.rows, total - r0), cols.data() + slot * per_slot, false);
    });
  } else {
    const int64_t nb_max = g.chunk(sizeof(T));
    Scratch<T> col(size_t(nb_max * p * k));  // written by im2col before any read
    for (int64_t n0 = 0; n0 < g.n; n0 += nb_max)
      band(n0 * g.oh, std::min(nb_max, g.n - n0) * g.oh, col.data(), true);
  }
  if (bias) add_bias(bias, g.o, g.n * p, y);
}

template <class T>
void backward_input_gemm(const Geom& g, const T* gy, const T* w, T* gx) {
  const int64_t k = g.k(), p = g.p();
  if (g.pointwise()) {
    // gx_g (N*H*W, Cg) = gy_g (N*H*W, Og) @ w_g (Og, Cg)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(false, false, g.n * p, g.cg, g.og, T(1), gy + grp * g.og, g.o, w + grp * g.og * k, k,
              T(0), gx + grp * g.cg, g.c);
    return;
  }
  zero_rows(gx, g.n * g.h, g.w * g.c);
  // gcol (rows*OW, K) = gy_g (rows*OW, Og) @ w_g (Og, K), added into gx by col2im.
  auto band = [&](int64_t r0, int64_t rows, T* gcol, bool parallel) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      gemm<T>(false, false, rows * g.ow, k, g.og, T(1), gy + r0 * g.ow * g.o + grp * g.og, g.o,
              w + grp * g.og * k, k, T(0), gcol, k);
      col2im_add(g, gcol, r0, rows, grp, gx, parallel);
    }
  };
  if (const Bands b = bands(g, sizeof(T), /*whole_images=*/true); b.rows > 0) {
    // A task owns whole images and runs their bands in turn: bands of one image overlap in
    // gx, so no two may run at once.
    const int64_t per_slot = b.rows * g.ow * k;
    Scratch<T> gcols(size_t(max_threads() * per_slot));  // written by the GEMM
    parallel_tasks((g.n + b.images_per_task - 1) / b.images_per_task, [&](int64_t t, int slot) {
      const int64_t end = std::min(g.n, (t + 1) * b.images_per_task) * g.oh;
      for (int64_t r0 = t * b.images_per_task * g.oh; r0 < end; r0 += b.rows)
        band(r0, std::min(b.rows, end - r0), gcols.data() + slot * per_slot, false);
    });
  } else {
    const int64_t nb_max = g.chunk(sizeof(T));
    Scratch<T> gcol(size_t(nb_max * p * k));  // written by the GEMM
    for (int64_t n0 = 0; n0 < g.n; n0 += nb_max)
      band(n0 * g.oh, std::min(nb_max, g.n - n0) * g.oh, gcol.data(), true);
  }
}

template <class T>
void backward_weight_gemm(const Geom& g, const T* gy, const T* x, T* gw) {
  const int64_t k = g.k(), p = g.p();
  if (g.pointwise()) {
    // gw_g (Og, Cg) = gy_g^T (Og, N*H*W) @ x_g (N*H*W, Cg)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      gemm<T>(true, false, g.og, k, g.n * p, T(1), gy + grp * g.og, g.o, x + grp * g.cg, g.c, T(0),
              gw + grp * g.og * k, k);
    return;
  }
  if (const Bands b = bands(g, sizeof(T), /*whole_images=*/false); b.rows > 0) {
    // Lane l sums the products of bands l, l + lanes, ...; the lanes are then added in order.
    const int64_t total = g.n * g.oh, count = (total + b.rows - 1) / b.rows;
    const int64_t lanes = std::min(kLanes, count), per_slot = b.rows * g.ow * k, size = g.o * k;
    Scratch<T> cols(size_t(max_threads() * per_slot));  // written by im2col before any read
    Scratch<T> partial(size_t(lanes * size));          // written by each lane's first GEMM
    parallel_tasks(lanes, [&](int64_t lane, int slot) {
      T* col = cols.data() + slot * per_slot;
      T* sum = partial.data() + lane * size;
      for (int64_t t = lane; t < count; t += lanes) {
        const int64_t r0 = t * b.rows, rows = std::min(b.rows, total - r0);
        const T beta = t == lane ? T(0) : T(1);  // a lane's first band overwrites
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          im2col(g, x, r0, rows, grp, col, false);
          // sum_g (Og, K) (+)= gy_g^T (Og, rows*OW) @ col (rows*OW, K)
          gemm<T>(true, false, g.og, k, rows * g.ow, T(1), gy + r0 * g.ow * g.o + grp * g.og,
                  g.o, col, k, beta, sum + grp * g.og * k, k);
        }
      }
    });
    const T* sums = partial.data();
    parallel_for(size, grain(lanes), [&](int64_t i) {
      T total_i = sums[i];
      for (int64_t lane = 1; lane < lanes; ++lane) total_i += sums[lane * size + i];
      gw[i] = total_i;
    });
    return;
  }
  const int64_t nb_max = g.chunk(sizeof(T));
  Scratch<T> col(size_t(nb_max * p * k));  // (nb*P, K), written by im2col before any read
  for (int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, g.n - n0);
    const T beta = n0 == 0 ? T(0) : T(1);  // the first chunk overwrites, later ones accumulate
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      im2col(g, x, n0 * g.oh, nb * g.oh, grp, col.data(), true);
      // gw_g (Og, K) (+)= gy_g^T (Og, nb*P) @ col (nb*P, K)
      gemm<T>(true, false, g.og, k, nb * p, T(1), gy + n0 * p * g.o + grp * g.og, g.o, col.data(),
              k, beta, gw + grp * g.og * k, k);
    }
  }
}

// ---- depthwise paths (groups == C, output channel c*M + m reads input channel c) ----
// im2col would build a K = KH*KW column per channel and run C tiny GEMMs; direct loops
// vectorise over channels instead.

// wt (KH*KW, O): the weight with taps outermost, so each tap's channel row is contiguous.
template <class T>
std::vector<T> taps_first(const Geom& g, const T* w) {
  const int64_t taps = g.kh * g.kw;
  std::vector<T> wt(size_t(taps * g.o));
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t t = 0; t < taps; ++t) wt[size_t(t * g.o + oc)] = w[oc * taps + t];
  return wt;
}

template <class T>
void forward_depthwise(const Geom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::vector<T> wt = taps_first(g, w);
  const int64_t m = g.og;
  parallel_for(g.n * g.oh, grain(g.ow * g.o * g.kh * g.kw), [&](int64_t r) {
    const int64_t n = r / g.oh, oy = r % g.oh;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      T* yp = y + (r * g.ow + ox) * g.o;
      if (bias)
        std::memcpy(yp, bias, size_t(g.o) * sizeof(T));
      else
        std::fill(yp, yp + g.o, T(0));
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iw = ox * g.sw - g.pw + kx * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          const T* xp = x + ((n * g.h + ih) * g.w + iw) * g.c;
          const T* wp = wt.data() + (ky * g.kw + kx) * g.o;
          if (m == 1) {
            for (int64_t c = 0; c < g.c; ++c) yp[c] += xp[c] * wp[c];
          } else {
            for (int64_t c = 0; c < g.c; ++c)
              for (int64_t j = 0; j < m; ++j) yp[c * m + j] += xp[c] * wp[c * m + j];
          }
        }
      }
    }
  });
}

template <class T>
void backward_input_depthwise(const Geom& g, const T* gy, const T* w, T* gx) {
  const std::vector<T> wt = taps_first(g, w);
  const int64_t m = g.og;
  zero_rows(gx, g.n * g.h, g.w * g.c);
  // As in col2im_add: for a fixed ky, each output row scatters into its own input row.
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    parallel_for(g.n * g.oh, grain(g.ow * g.o * g.kw), [&](int64_t r) {
      const int64_t n = r / g.oh, oy = r % g.oh;
      const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
      if (ih < 0 || ih >= g.h) return;
      T* xrow = gx + (n * g.h + ih) * g.w * g.c;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const T* gp = gy + (r * g.ow + ox) * g.o;
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iw = ox * g.sw - g.pw + kx * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          T* xp = xrow + iw * g.c;
          const T* wp = wt.data() + (ky * g.kw + kx) * g.o;
          if (m == 1) {
            for (int64_t c = 0; c < g.c; ++c) xp[c] += gp[c] * wp[c];
          } else {
            for (int64_t c = 0; c < g.c; ++c) {
              T acc = 0;
              for (int64_t j = 0; j < m; ++j) acc += gp[c * m + j] * wp[c * m + j];
              xp[c] += acc;
            }
          }
        }
      }
    });
  }
}

template <class T>
void backward_weight_depthwise(const Geom& g, const T* gy, const T* x, T* gw) {
  const int64_t taps = g.kh * g.kw, m = g.og;
  std::vector<T> gwt(size_t(taps * g.o), T(0));  // (KH*KW, O)
  // One tap per task: each owns its row of gwt, so no reduction across threads is needed.
  parallel_for(taps, grain(g.n * g.p() * g.o), [&](int64_t t) {
    const int64_t ky = t / g.kw, kx = t % g.kw;
    T* acc = gwt.data() + t * g.o;
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t ih = oy * g.sh - g.ph + ky * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t iw = ox * g.sw - g.pw + kx * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          const T* xp = x + ((n * g.h + ih) * g.w + iw) * g.c;
          const T* gp = gy + ((n * g.oh + oy) * g.ow + ox) * g.o;
          if (m == 1) {
            for (int64_t c = 0; c < g.c; ++c) acc[c] += gp[c] * xp[c];
          } else {
            for (int64_t c = 0; c < g.c; ++c)
              for (int64_t j = 0; j < m; ++j) acc[c * m + j] += gp[c * m + j] * xp[c];
          }
        }
      }
  });
  for (int64_t oc = 0; oc < g.o; ++oc)
    for (int64_t t = 0; t < taps; ++t) gw[oc * taps + t] = gwt[size_t(t * g.o + oc)];
}

}  // namespace

void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
            Tensor& y) {
  const Geom g = geom(x.shape(), w.shape(), y.shape(), o);
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    if (g.depthwise())
      forward_depthwise(g, x.data<T>(), w.data<T>(), b, y.data<T>());
    else
      forward_gemm(g, x.data<T>(), w.data<T>(), b, y.data<T>());
  });
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, const Conv2dOptions& o, Tensor& gx) {
  const Geom g = geom(gx.shape(), w.shape(), gy.shape(), o);
  if (gx.numel() == 0) return;
  dispatch_float(gy.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (g.depthwise())
      backward_input_depthwise(g, gy.data<T>(), w.data<T>(), gx.data<T>());
    else
      backward_input_gemm(g, gy.data<T>(), w.data<T>(), gx.data<T>());
  });
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Conv2dOptions& o, Tensor& gw) {
  const Geom g = geom(x.shape(), gw.shape(), gy.shape(), o);
  dispatch_float(gy.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (gy.numel() == 0)  // an empty batch contributes nothing
      std::fill(gw.data<T>(), gw.data<T>() + gw.numel(), T(0));
    else if (g.depthwise())
      backward_weight_depthwise(g, gy.data<T>(), x.data<T>(), gw.data<T>());
    else
      backward_weight_gemm(g, gy.data<T>(), x.data<T>(), gw.data<T>());
  });
}

}  // namespace whet::cpu
