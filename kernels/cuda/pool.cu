// NHWC pooling on CUDA, the twins of kernels/cpu/pool.cpp. Channels are innermost, so the
// flat thread index runs fastest over C and every load of a window position coalesces.
//
// Backward passes gather instead of scattering: each input element sums the gradients of the
// outputs that reach it, in raster order of the outputs (the CPU's scatter order), from zero,
// with products rounded before the add as in the CPU's (uncontracted) code. No atomics, no
// dependence on scheduling; max_pool2d_backward, a sum of plain adds, equals the CPU bit for bit.
#include "kernels/cuda/pool.cuh"

#include <algorithm>
#include <climits>
#include <utility>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"

namespace whet::cuda {

namespace {

// A window's extent along one axis: [lo, hi) clipped to the input, and the count its divisor
// takes (avg_pool2d with count_include_pad counts padding, never past the padded edge that
// ceil_mode's last window can reach).
template <class I>
struct Span {
  I lo, hi, counted;
};

// One spatial axis of a pool, index type I: a window of k taps at stride s, padding p and
// dilation d, or PyTorch's adaptive bins [floor(o*in/out), ceil((o+1)*in/out)).
template <class I>
struct Axis {
  I in, out, k, s, p, d;
  bool adaptive, include_pad;

  // Output o's averaging window (dilation is 1 there).
  __device__ __forceinline__ Span<I> span(I o) const {
    if (adaptive) {  // 64-bit products: o * in may pass 2^31 where in and out do not
      const I lo = I(int64_t(o) * in / out), hi = I(((int64_t(o) + 1) * in + out - 1) / out);
      return {lo, hi, I(hi - lo)};
    }
    const I lo = o * s - p, hi = min(lo + k, in + p);
    const I clo = max(lo, I(0)), chi = min(hi, in);
    return {clo, chi, include_pad ? I(hi - lo) : I(chi - clo)};
  }
  // The outputs whose averaging window holds input i: [first, last], empty if first > last.
  __device__ __forceinline__ void covering(I i, I& first, I& last) const {
    if (adaptive) {
      first = I(int64_t(i) * out / in), last = I(((int64_t(i) + 1) * out - 1) / in);
    } else {  // o*s - p <= i < o*s - p + k
      const I l = i + p - k + 1;
      first = l <= 0 ? I(0) : (l + s - 1) / s, last = (i + p) / s;
    }
    last = min(last, I(out - 1));
  }
};

// The (H -> OH, W -> OW) axes of a pool from x (N, H, W, C) to y (N, OH, OW, C).
template <class I>
std::pair<Axis<I>, Axis<I>> axes(const Shape& x, const Shape& y, const Pool2dOptions& o,
                                 bool adaptive) {
  const Int2 k = o.kernel_size, s = o.effective_stride(), p = o.padding, d = o.dilation;
  const bool inc = o.count_include_pad;
  return {{I(x[1]), I(y[1]), I(k.h), I(s.h), I(p.h), I(d.h), adaptive, inc},
          {I(x[2]), I(y[2]), I(k.w), I(s.w), I(p.w), I(d.w), adaptive, inc}};
}

// Position of flat element e of an (N, A, B, C) tensor.
template <class I>
struct Pos {
  I n, a, b, c;
};
template <class I>
__device__ __forceinline__ Pos<I> unflatten(I e, I a, I b, I c) {
  const I t = e / c, u = t / b;
  return {u / a, u % a, t % b, e % c};
}

template <class C>
__device__ __forceinline__ bool is_nan(C v) {
  return v != v;
}

// Adaptive bins of at least this many positions (the global average of a network head) are
// summed by a block each; smaller bins and avg_pool2d windows by one thread per output.
constexpr int kWideBin = 64;
constexpr int kBinLanes = 32, kBinRows = 8;  // block (channels, positions) of the wide kernel

}  // namespace

// x (N, H, W, C) -> y, idx (N, OH, OW, C). Padding counts as -inf; NaN wins and the first of
// equal maxima is kept, as in PyTorch; -1 marks a window with no input position (dilation).
template <class T, class I>
static __global__ void max_pool_kernel(Axis<I> ay, Axis<I> ax, I c, const T* __restrict__ x,
                                       T* __restrict__ y, int64_t* __restrict__ idx,
                                       int64_t total) {
  using C = compute_t<T>;
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const Pos<I> p = unflatten<I>(I(i), ay.out, ax.out, c);
    const T* xn = x + p.n * ay.in * ax.in * c + p.c;
    C best = -C(INFINITY);
    int64_t arg = -1;
    for (I ky = 0; ky < ay.k; ++ky) {
      const I ih = p.a * ay.s - ay.p + ky * ay.d;
      if (ih < 0 || ih >= ay.in) continue;
      for (I kx = 0; kx < ax.k; ++kx) {
        const I iw = p.b * ax.s - ax.p + kx * ax.d;
        if (iw < 0 || iw >= ax.in) continue;
        const I pos = ih * ax.in + iw;
        const C v = cast_to<C>(xn[pos * c]);
        if (v > best || is_nan(v)) best = v, arg = pos;
      }
    }
    y[i] = cast_to<T>(best);
    idx[i] = arg;
  }
}

// idx (N, OH, OW, C) -> for output row oy, the input rows its indices reach: [row_lo, row_hi]
// (min and max over N, OW, C); likewise the input columns of output column ox. One thread per
// output position q = (oy, ox), blockIdx.y splitting N. Integer min and max do not depend on
// the order the atomics land in.
static __global__ void index_extent_kernel(const int64_t* __restrict__ idx, int64_t n,
                                           int64_t plane, int64_t ow, int64_t c, int h, int w,
                                           int* row_lo, int* row_hi, int* col_lo, int* col_hi) {
  const int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (q >= plane) return;
  int rlo = INT_MAX, rhi = -1, clo = INT_MAX, chi = -1;
  for (int64_t b = blockIdx.y; b < n; b += gridDim.y) {
    const int64_t* p = idx + (b * plane + q) * c;
    for (int64_t j = 0; j < c; ++j) {
      const int64_t v = p[j];
      if (v < 0 || v >= int64_t(h) * w) continue;  // -1: an empty window
      const int r = int(v) / w, col = int(v) - r * w;
      rlo = min(rlo, r), rhi = max(rhi, r), clo = min(clo, col), chi = max(chi, col);
    }
  }
  if (rhi < 0) return;
  atomicMin(row_lo + q / ow, rlo), atomicMax(row_hi + q / ow, rhi);
  atomicMin(col_lo + q % ow, clo), atomicMax(col_hi + q % ow, chi);
}

// lo, hi (n_out) -> first, last (n_in): the first and last output whose extent covers input i
// (first > last when none does): a superset of the outputs whose index can be i.
static __global__ void invert_extent_kernel(const int* __restrict__ lo, const int* __restrict__ hi,
                                            int n_out, int n_in, int* __restrict__ first,
                                            int* __restrict__ last) {
  const int i = int(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n_in) return;
  int f = n_out, l = -1;
  for (int o = 0; o < n_out; ++o)
    if (lo[o] <= i && i <= hi[o]) f = min(f, o), l = o;
  first[i] = f, last[i] = l;
}

// gy, idx (N, OH, OW, C), ranges (oy_first, oy_last (H), ox_first, ox_last (W)) -> gx
// (N, H, W, C): the sum of gy over the outputs whose index is this position, scanned in raster
// order over the candidate rectangle.
template <class T, class I>
static __global__ void max_pool_backward_kernel(Axis<I> ay, Axis<I> ax, I c,
                                                const T* __restrict__ gy,
                                                const int64_t* __restrict__ idx,
                                                const int* __restrict__ ranges, T* __restrict__ gx,
                                                int64_t total) {
  using C = compute_t<T>;
  const int *oy_first = ranges, *oy_last = ranges + ay.in;
  const int *ox_first = ranges + 2 * ay.in, *ox_last = ox_first + ax.in;
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const Pos<I> p = unflatten<I>(I(i), ay.in, ax.in, c);
    const int64_t pos = int64_t(p.a) * ax.in + p.b;
    const I y1 = oy_last[p.a], x0 = ox_first[p.b], x1 = ox_last[p.b];
    C acc = C(0);
    for (I oy = oy_first[p.a]; oy <= y1; ++oy)
      for (I ox = x0; ox <= x1; ++ox) {
        const I q = ((p.n * ay.out + oy) * ax.out + ox) * c + p.c;
        if (idx[q] == pos) acc += cast_to<C>(gy[q]);
      }
    gx[i] = cast_to<T>(acc);
  }
}

// x (N, H, W, C) -> y (N, OH, OW, C) for avg_pool2d and adaptive_avg_pool2d: each output the
// sum of its window in raster order times 1/divisor, as the CPU computes it.
template <class T, class I>
static __global__ void mean_pool_kernel(Axis<I> ay, Axis<I> ax, I c, const T* __restrict__ x,
                                        T* __restrict__ y, int64_t total) {
  using C = compute_t<T>;
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const Pos<I> p = unflatten<I>(I(i), ay.out, ax.out, c);
    const Span<I> sh = ay.span(p.a), sw = ax.span(p.b);
    C acc = C(0);
    for (I ih = sh.lo; ih < sh.hi; ++ih)
      for (I iw = sw.lo; iw < sw.hi; ++iw)
        acc += cast_to<C>(x[((p.n * ay.in + ih) * ax.in + iw) * c + p.c]);
    const I divisor = sh.counted * sw.counted;
    y[i] = cast_to<T>(acc * (divisor > 0 ? C(1) / C(divisor) : C(0)));
  }
}

// gy (N, OH, OW, C) -> gx (N, H, W, C): each output whose window holds the position adds
// gy/divisor, in raster order.
template <class T, class I>
static __global__ void mean_pool_backward_kernel(Axis<I> ay, Axis<I> ax, I c,
                                                 const T* __restrict__ gy, T* __restrict__ gx,
                                                 int64_t total) {
  using C = compute_t<T>;
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const Pos<I> p = unflatten<I>(I(i), ay.in, ax.in, c);
    I y0, y1, x0, x1;
    ay.covering(p.a, y0, y1), ax.covering(p.b, x0, x1);
    C acc = C(0);
    for (I oy = y0; oy <= y1; ++oy) {
      const I ch = ay.span(oy).counted;
      for (I ox = x0; ox <= x1; ++ox) {
        const I divisor = ch * ax.span(ox).counted;
        const C scale = divisor > 0 ? C(1) / C(divisor) : C(0);
        const C g = cast_to<C>(gy[((p.n * ay.out + oy) * ax.out + ox) * c + p.c]);
        acc = add_rn(acc, mul_rn(g, scale));
      }
    }
    gx[i] = cast_to<T>(acc);
  }
}

// x (N, H, W, C) -> y (N, OH, OW, C) for wide adaptive bins: block (kBinLanes, kBinRows) per
// (bin, channel slab); threadIdx.y strides the bin's positions, then a fixed-order tree adds
// the rows.
template <class T>
static __global__ void adaptive_wide_kernel(Axis<int64_t> ay, Axis<int64_t> ax, int64_t c,
                                            const T* __restrict__ x, T* __restrict__ y) {
  using C = compute_t<T>;
  __shared__ C part[kBinRows][kBinLanes];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t bin = blockIdx.x, ch = int64_t(blockIdx.y) * kBinLanes + tx;
  const int64_t ox = bin % ax.out, oy = bin / ax.out % ay.out, n = bin / (ax.out * ay.out);
  const Span<int64_t> sh = ay.span(oy), sw = ax.span(ox);
  const int bw = int(sw.hi - sw.lo), area = int((sh.hi - sh.lo) * bw);
  C acc = C(0);
  if (ch < c) {
    const T* xb = x + ((n * ay.in + sh.lo) * ax.in + sw.lo) * c + ch;
    for (int k = ty; k < area; k += kBinRows)
      acc += cast_to<C>(xb[(int64_t(k / bw) * ax.in + k % bw) * c]);
  }
  part[ty][tx] = acc;
  __syncthreads();
  for (int s = kBinRows / 2; s > 0; s >>= 1) {
    if (ty < s) part[ty][tx] += part[ty + s][tx];
    __syncthreads();
  }
  if (ty == 0 && ch < c) y[bin * c + ch] = cast_to<T>(part[0][tx] * (C(1) / C(area)));
}

// ---- launchers ----

template <class T, class I>
static void launch_max_pool_backward(Axis<I> ay, Axis<I> ax, int64_t n, I c, const T* gy,
                                     const int64_t* idx, T* gx, const Context& ctx) {
  const int64_t h = ay.in, w = ax.in, oh = ay.out, ow = ax.out, plane = oh * ow;
  // lo: row_lo (OH), col_lo (OW); hi: row_hi (OH), col_hi (OW); ranges: oy_first, oy_last
  // (H), ox_first, ox_last (W).
  DeviceBuffer buf(size_t(2 * (oh + ow) + 2 * (h + w)) * sizeof(int), ctx.device());
  int* lo = static_cast<int*>(buf.get());
  int* hi = lo + oh + ow;
  int* ranges = hi + oh + ow;
  // 0x7F7F7F7F exceeds every row and column, 0xFFFFFFFF is -1: the identities of min and max.
  WHET_CUDA_CHECK(cudaMemsetAsync(lo, 0x7F, size_t(oh + ow) * sizeof(int), ctx.stream()));
  WHET_CUDA_CHECK(cudaMemsetAsync(hi, 0xFF, size_t(oh + ow) * sizeof(int), ctx.stream()));
  // Enough splits of N for about 2048 threads per SM.
  const int64_t want = (int64_t(ctx.sm_count()) * 2048 + plane - 1) / plane;
  const dim3 grid{unsigned((plane + kThreads - 1) / kThreads),
                  unsigned(std::max<int64_t>(1, std::min({want, n, int64_t(65535)})))};
  index_extent_kernel<<<grid, kThreads, 0, ctx.stream()>>>(idx, n, plane, ow, c, int(h), int(w), lo,
                                                           hi, lo + oh, hi + oh);
  WHET_CUDA_LAUNCH_CHECK();
  invert_extent_kernel<<<unsigned((h + kThreads - 1) / kThreads), kThreads, 0, ctx.stream()>>>(
      lo, hi, int(oh), int(h), ranges, ranges + h);
  WHET_CUDA_LAUNCH_CHECK();
  invert_extent_kernel<<<unsigned((w + kThreads - 1) / kThreads), kThreads, 0, ctx.stream()>>>(
      lo + oh, hi + oh, int(ow), int(w), ranges + 2 * h, ranges + 2 * h + w);
  WHET_CUDA_LAUNCH_CHECK();
  const int64_t total = n * h * w * c;
  max_pool_backward_kernel<T, I>
      <<<grid_for(total, ctx), kThreads, 0, ctx.stream()>>>(ay, ax, c, gy, idx, ranges, gx, total);
  WHET_CUDA_LAUNCH_CHECK();
}

// ---- entry points ----

namespace {

// The (N, H, W, C) input and (N, OH, OW, C) output of a pooling op agree in N, C and dtype.
void check_pair(const char* op, const Tensor& in, const Tensor& out, const char* in_name,
                const char* out_name) {
  WHET_CHECK(in.dim() == 4 && out.dim() == 4 && in.size(0) == out.size(0) &&
                 in.size(3) == out.size(3) && in.dtype() == out.dtype(),
             op, ": ", in_name, " ", dtype_name(in.dtype()), " ", shape_str(in.shape()), " and ",
             out_name, " ", dtype_name(out.dtype()), " ", shape_str(out.shape()),
             " must be (N, H, W, C) and (N, OH, OW, C) of one dtype");
  WHET_CHECK(in.size(1) * in.size(2) <= INT_MAX && out.size(1) * out.size(2) <= INT_MAX, op,
             ": image planes of more than 2^31 positions are not supported");
}

void check_indices(const char* op, const Tensor& indices, const Tensor& y) {
  WHET_CHECK(indices.dtype() == DType::i64 && indices.shape() == y.shape(), op,
             ": indices must be int64 ", shape_str(y.shape()), ", got ",
             dtype_name(indices.dtype()), " ", shape_str(indices.shape()));
}

// Runs f(TypeTag<T>, I{}, ctx) on t's device for t's dtype, with I the narrowest index type
// holding every flat offset below `largest`: 32-bit division is several times cheaper than
// 64-bit in the index arithmetic.
template <class F>
void run(const char* op, const Tensor& t, int64_t largest, F&& f) {
  const int dev = t.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(t.dtype(), op, [&](auto tag) {
    if (largest <= INT32_MAX)
      f(tag, int32_t{}, ctx);
    else
      f(tag, int64_t{}, ctx);
  });
}

template <class T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* out(Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// Shared by avg_pool2d and adaptive_avg_pool2d.
void mean_pool(const char* op, const Tensor& x, const Pool2dOptions& o, bool adaptive, Tensor& y) {
  check_pair(op, x, y, "input", "output");
  const int64_t n = y.numel();
  if (n == 0) return;
  // An adaptive bin spans at most ceil(H/OH) + 1 rows (neighbouring bins overlap).
  const int64_t h = x.size(1), w = x.size(2), oh = y.size(1), ow = y.size(2), c = x.size(3);
  const int64_t widest = ((h + oh - 1) / oh + 1) * ((w + ow - 1) / ow + 1);
  const int64_t bins = y.size(0) * oh * ow, slabs = (c + kBinLanes - 1) / kBinLanes;
  const bool wide = adaptive && widest >= kWideBin && bins <= INT_MAX && slabs <= 65535;
  run(op, x, std::max(x.numel(), n), [&](auto t, auto i, Context& ctx) {
    using T = typename decltype(t)::type;
    using I = decltype(i);
    if (wide) {
      auto [ay, ax] = axes<int64_t>(x.shape(), y.shape(), o, true);
      adaptive_wide_kernel<T>
          <<<dim3{unsigned(bins), unsigned(slabs)}, dim3{kBinLanes, kBinRows}, 0, ctx.stream()>>>(
              ay, ax, c, in<T>(x), out<T>(y));
    } else {
      auto [ay, ax] = axes<I>(x.shape(), y.shape(), o, adaptive);
      mean_pool_kernel<T, I>
          <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(ay, ax, I(c), in<T>(x), out<T>(y), n);
    }
    WHET_CUDA_LAUNCH_CHECK();
  });
}

void mean_pool_backward(const char* op, const Tensor& gy, const Pool2dOptions& o, bool adaptive,
                        Tensor& gx) {
  check_pair(op, gx, gy, "grad_input", "grad_output");
  const int64_t n = gx.numel();
  if (n == 0) return;
  run(op, gx, std::max(gy.numel(), n), [&](auto t, auto i, Context& ctx) {
    using T = typename decltype(t)::type;
    using I = decltype(i);
    auto [ay, ax] = axes<I>(gx.shape(), gy.shape(), o, adaptive);
    mean_pool_backward_kernel<T, I><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(
        ay, ax, I(gx.size(3)), in<T>(gy), out<T>(gx), n);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace

void max_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y, Tensor& indices) {
  check_pair("max_pool2d", x, y, "input", "output");
  check_indices("max_pool2d", indices, y);
  const int64_t n = y.numel();
  if (n == 0) return;
  run("max_pool2d", x, std::max(x.numel(), n), [&](auto t, auto i, Context& ctx) {
    using T = typename decltype(t)::type;
    using I = decltype(i);
    auto [ay, ax] = axes<I>(x.shape(), y.shape(), o, false);
    max_pool_kernel<T, I><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(
        ay, ax, I(x.size(3)), in<T>(x), out<T>(y), out<int64_t>(indices), n);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx) {
  check_pair("max_pool2d_backward", gx, gy, "grad_input", "grad_output");
  check_indices("max_pool2d_backward", indices, gy);
  if (gx.numel() == 0) return;
  run("max_pool2d_backward", gx, std::max(gx.numel(), gy.numel()),
      [&](auto t, auto i, Context& ctx) {
        using T = typename decltype(t)::type;
        using I = decltype(i);
        if (gy.numel() == 0) {  // no output position: no gradient reaches the input
          WHET_CUDA_CHECK(cudaMemsetAsync(gx.raw_data(), 0, gx.nbytes(), ctx.stream()));
          return;
        }
        auto [ay, ax] = axes<I>(gx.shape(), gy.shape(), Pool2dOptions{}, false);
        launch_max_pool_backward<T, I>(ay, ax, gx.size(0), I(gx.size(3)), in<T>(gy),
                                       in<int64_t>(indices), out<T>(gx), ctx);
      });
}

void avg_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y) {
  mean_pool("avg_pool2d", x, o, false, y);
}

void avg_pool2d_backward(const Tensor& gy, const Pool2dOptions& o, Tensor& gx) {
  mean_pool_backward("avg_pool2d_backward", gy, o, false, gx);
}

void adaptive_avg_pool2d(const Tensor& x, Tensor& y) {
  mean_pool("adaptive_avg_pool2d", x, Pool2dOptions{}, true, y);
}

void adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx) {
  mean_pool_backward("adaptive_avg_pool2d_backward", gy, Pool2dOptions{}, true, gx);
}

}  // namespace whet::cuda
