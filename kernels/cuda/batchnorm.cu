// Channels-last batch norm on CUDA, the twin of kernels/cpu/batchnorm.cpp: x is (M, C) with
// M = N*H*W. Every kernel over x uses one block shape: tx threads across a slab of channels
// (a power of two up to 32, so a warp reads contiguous row segments) by ty = 256/tx threads
// down the rows; grid.x walks the channel slabs and grid.y chunks of rows.
//
// Per-channel sums are deterministic without atomics: each block reduces its (chunk, slab)
// tile in a fixed tree into a partial buffer, then a block per channel merges the chunks in a
// fixed order, in double. Within a chunk the mean takes two passes (a rough mean, then the sums
// of deviations from it and of their squares: the corrected two-pass algorithm), so float
// accumulation keeps its precision when |mean| >> std; chunks merge by Chan et al.'s formula.
#include "kernels/cuda/batchnorm.cuh"

#include <algorithm>
#include <climits>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"

namespace whet::cuda {

namespace {

constexpr int kMergeLanes = 32;  // threads per channel in the finalize kernels

struct Layout {
  dim3 block, grid;
  int64_t rows;  // rows per chunk; grid.y chunks cover M
};

Layout layout(int64_t m, int64_t c, const Context& ctx) {
  unsigned tx = 1;
  while (tx < 32 && int64_t(tx) < c) tx *= 2;
  const unsigned ty = unsigned(kThreads) / tx;
  const int64_t slabs = (c + tx - 1) / tx;
  // About 8 blocks of 256 threads per SM in all, and at least 4 rows per thread row so the
  // tree reductions stay a small share of the work.
  const int64_t want = std::max<int64_t>(1, int64_t(ctx.sm_count()) * 8 / slabs);
  const int64_t most = std::max<int64_t>(1, m / (4 * int64_t(ty)));
  int64_t chunks = std::min({want, most, int64_t(65535)});
  const int64_t rows = (m + chunks - 1) / chunks;
  chunks = (m + rows - 1) / rows;
  return {dim3(tx, ty), dim3(unsigned(slabs), unsigned(chunks)), rows};
}

template <class P>
P* ptr(const Tensor& t) {
  return t.defined() ? static_cast<P*>(t.raw_data()) : nullptr;
}

}  // namespace

// The sum over threadIdx.y of v, per threadIdx.x, in a fixed tree order (blockDim.y is a power
// of two); every thread gets its column's total. red holds blockDim.x * blockDim.y values.
template <class A>
__device__ A column_sum(A v, A* red) {
  const int tx = threadIdx.x, ty = threadIdx.y, nx = blockDim.x;
  red[ty * nx + tx] = v;
  __syncthreads();
  for (int s = blockDim.y / 2; s > 0; s >>= 1) {
    if (ty < s) red[ty * nx + tx] += red[(ty + s) * nx + tx];
    __syncthreads();
  }
  const A total = red[tx];
  __syncthreads();  // red is reused by the next call
  return total;
}

// x (M, C) -> partial (chunks, C, 3): the chunk's rough mean m0 (float sum / count), then the
// sums of d = x - m0 and of d^2.
template <class T>
static __global__ void stats_kernel(const T* __restrict__ x, int64_t m, int64_t c, int64_t rows,
                                    compute_t<T>* __restrict__ partial) {
  using A = compute_t<T>;
  __shared__ A red[kThreads];
  const int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * rows, r1 = std::min(m, r0 + rows);
  const bool live = ch < c;
  A s = A(0);
  if (live)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) s += cast_to<A>(x[r * c + ch]);
  const A m0 = column_sum(s, red) / A(r1 - r0);
  A sd = A(0), sq = A(0);
  if (live)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const A d = cast_to<A>(x[r * c + ch]) - m0;
      sd += d;
      sq += d * d;
    }
  sd = column_sum(sd, red);
  sq = column_sum(sq, red);
  if (live && threadIdx.y == 0) {
    A* p = partial + (int64_t(blockIdx.y) * c + ch) * 3;
    p[0] = m0, p[1] = sd, p[2] = sq;
  }
}

// (count, mean, sum of squared deviations) of a set of rows.
struct Moments {
  double n, mean, m2;
};

// Chan et al.'s pairwise merge; an empty side leaves the other unchanged.
__device__ __forceinline__ Moments merge(const Moments& a, const Moments& b) {
  const double n = a.n + b.n;
  if (b.n == 0) return a;
  const double delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
}

// The fixed-order tree over a block of kMergeLanes threads; lane 0 gets the total.
template <class V, class Op>
__device__ V lane_tree(V v, V* red, Op op) {
  const int lane = threadIdx.x;
  red[lane] = v;
  __syncthreads();
  for (int s = kMergeLanes / 2; s > 0; s >>= 1) {
    if (lane < s) red[lane] = op(red[lane], red[lane + s]);
    __syncthreads();
  }
  return red[0];
}

// partial (chunks, C, 3) when training, else the running statistics -> save_mean, save_invstd
// (C), running statistics updated (training), coef (C, 2): y = x * scale + shift. A block of
// kMergeLanes threads per channel: lane l merges chunks l, l + kMergeLanes, ... in order, then
// the lanes merge in a fixed tree; lane 0 finishes in double, as the CPU kernel does.
template <class A, class P>
static __global__ void finalize_kernel(const A* __restrict__ partial, int64_t chunks, int64_t rows,
                                       int64_t m, int64_t c, bool training, double momentum,
                                       double eps, const P* __restrict__ w, const P* __restrict__ b,
                                       P* __restrict__ rm, P* __restrict__ rv,
                                       P* __restrict__ save_mean, P* __restrict__ save_invstd,
                                       A* __restrict__ coef) {
  __shared__ Moments red[kMergeLanes];
  const int64_t ch = blockIdx.x;
  Moments t{0, 0, 0};
  if (training) {
    for (int64_t k = threadIdx.x; k < chunks; k += kMergeLanes) {
      const A* p = partial + (k * c + ch) * 3;
      // The chunk's exact mean m0 + sum(d)/n and M2 = sum(d^2) - sum(d)^2/n.
      const double nk = double(std::min(rows, m - k * rows)), sd = double(p[1]);
      t = merge(t, {nk, double(p[0]) + sd / nk, std::max(double(p[2]) - sd * sd / nk, 0.0)});
    }
    t = lane_tree(t, red, [](const Moments& a, const Moments& b) { return merge(a, b); });
  }
  if (threadIdx.x != 0) return;
  double mean, invstd;
  if (training) {
    mean = t.mean;
    invstd = 1.0 / sqrt(t.m2 / double(m) + eps);
    // The running variance is the unbiased one, M/(M-1) times the batch's (PyTorch).
    if (rm) rm[ch] = cast_to<P>((1 - momentum) * cast_to<double>(rm[ch]) + momentum * mean);
    if (rv && m > 1)
      rv[ch] =
          cast_to<P>((1 - momentum) * cast_to<double>(rv[ch]) + momentum * (t.m2 / double(m - 1)));
  } else {
    mean = cast_to<double>(rm[ch]);
    invstd = 1.0 / sqrt(cast_to<double>(rv[ch]) + eps);
  }
  const double s = invstd * (w ? cast_to<double>(w[ch]) : 1.0);
  const double shift = (b ? cast_to<double>(b[ch]) : 0.0) - mean * s;
  coef[2 * ch] = A(s), coef[2 * ch + 1] = A(shift);
  save_mean[ch] = cast_to<P>(mean), save_invstd[ch] = cast_to<P>(invstd);
}

// x (M, C), coef (C, 2) -> y (M, C), the product rounded before the add as on the CPU.
template <class T>
static __global__ void normalize_kernel(const T* __restrict__ x,
                                        const compute_t<T>* __restrict__ coef, int64_t m, int64_t c,
                                        int64_t rows, T* __restrict__ y) {
  using A = compute_t<T>;
  const int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const A scale = coef[2 * ch], shift = coef[2 * ch + 1];
  const int64_t r0 = int64_t(blockIdx.y) * rows, r1 = std::min(m, r0 + rows);
  for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y)
    y[r * c + ch] = cast_to<T>(add_rn(mul_rn(cast_to<A>(x[r * c + ch]), scale), shift));
}

// gy, x (M, C), mean (C) -> partial (chunks, C, 2): the chunk's sums of gy and gy * (x - mean).
template <class T, class P>
static __global__ void grad_sums_kernel(const T* __restrict__ gy, const T* __restrict__ x,
                                        const P* __restrict__ mean, int64_t m, int64_t c,
                                        int64_t rows, compute_t<T>* __restrict__ partial) {
  using A = compute_t<T>;
  __shared__ A red[kThreads];
  const int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t r0 = int64_t(blockIdx.y) * rows, r1 = std::min(m, r0 + rows);
  const bool live = ch < c;
  A sg = A(0), sgx = A(0);
  if (live) {
    const A mu = cast_to<A>(mean[ch]);
    for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const A g = cast_to<A>(gy[r * c + ch]);
      sg += g;
      sgx += g * (cast_to<A>(x[r * c + ch]) - mu);
    }
  }
  sg = column_sum(sg, red);
  sgx = column_sum(sgx, red);
  if (live && threadIdx.y == 0) {
    A* p = partial + (int64_t(blockIdx.y) * c + ch) * 2;
    p[0] = sg, p[1] = sgx;
  }
}

struct Sums {
  double g, gx;  // sum(gy), sum(gy * (x - mean))
};

// partial (chunks, C, 2) or null -> gw = sum(gy * xhat), gb = sum(gy) (C, each optional), and
// coef (C, 5) for gx: mean, invstd, k = invstd * w, mean(gy), mean(gy * xhat) (zero in eval).
// A block of kMergeLanes threads per channel, chunks added as in finalize_kernel.
template <class A, class P>
static __global__ void grad_finalize_kernel(const A* __restrict__ partial, int64_t chunks,
                                            int64_t m, int64_t c, bool training,
                                            const P* __restrict__ w, const P* __restrict__ mean,
                                            const P* __restrict__ invstd, P* __restrict__ gw,
                                            P* __restrict__ gb, A* __restrict__ coef) {
  __shared__ Sums red[kMergeLanes];
  const int64_t ch = blockIdx.x;
  Sums t{0, 0};
  if (partial) {
    for (int64_t k = threadIdx.x; k < chunks; k += kMergeLanes)
      t.g += double(partial[(k * c + ch) * 2]), t.gx += double(partial[(k * c + ch) * 2 + 1]);
    t = lane_tree(t, red, [](const Sums& a, const Sums& b) {
      return Sums{a.g + b.g, a.gx + b.gx};
    });
  }
  if (threadIdx.x != 0) return;
  const double is = cast_to<double>(invstd[ch]), sxhat = t.gx * is;
  if (gw) gw[ch] = cast_to<P>(sxhat);
  if (gb) gb[ch] = cast_to<P>(t.g);
  if (!coef) return;
  A* q = coef + ch * 5;
  q[0] = cast_to<A>(mean[ch]), q[1] = cast_to<A>(invstd[ch]);
  q[2] = A(is * (w ? cast_to<double>(w[ch]) : 1.0));
  q[3] = training ? A(t.g / double(m)) : A(0);
  q[4] = training ? A(sxhat / double(m)) : A(0);
}

// training: gx = k * (gy - mean(gy) - xhat * mean(gy * xhat)), xhat = (x - mean) * invstd;
// eval: gx = k * gy. gy, x (M, C), coef (C, 5) -> gx (M, C)
template <class T>
static __global__ void grad_input_kernel(const T* __restrict__ gy, const T* __restrict__ x,
                                         const compute_t<T>* __restrict__ coef, int64_t m,
                                         int64_t c, int64_t rows, bool training,
                                         T* __restrict__ gx) {
  using A = compute_t<T>;
  const int64_t ch = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  const A* q = coef + ch * 5;
  const A mu = q[0], invstd = q[1], k = q[2], mg = q[3], mgx = q[4];
  const int64_t r0 = int64_t(blockIdx.y) * rows, r1 = std::min(m, r0 + rows);
  for (int64_t r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
    const A g = cast_to<A>(gy[r * c + ch]);
    if (training) {
      const A xhat = (cast_to<A>(x[r * c + ch]) - mu) * invstd;
      gx[r * c + ch] = cast_to<T>(k * (g - mg - mul_rn(xhat, mgx)));
    } else {
      gx[r * c + ch] = cast_to<T>(k * g);
    }
  }
}

// ---- launchers ----

template <class T, class P>
static void launch_batch_norm(const T* x, const P* w, const P* b, P* rm, P* rv, bool training,
                              double momentum, double eps, T* y, P* save_mean, P* save_invstd,
                              int64_t m, int64_t c, const Context& ctx) {
  using A = compute_t<T>;
  const Layout l = layout(m, c, ctx);
  const int64_t chunks = l.grid.y;
  // coef (C, 2), then partial (chunks, C, 3) when training
  DeviceBuffer buf(size_t(2 * c + (training ? chunks * c * 3 : 0)) * sizeof(A), ctx.device());
  A* coef = static_cast<A*>(buf.get());
  A* partial = training ? coef + 2 * c : nullptr;
  if (training) {
    stats_kernel<T><<<l.grid, l.block, 0, ctx.stream()>>>(x, m, c, l.rows, partial);
    WHET_CUDA_LAUNCH_CHECK();
  }
  finalize_kernel<A, P><<<unsigned(c), kMergeLanes, 0, ctx.stream()>>>(
      partial, chunks, l.rows, m, c, training, momentum, eps, w, b, rm, rv, save_mean, save_invstd,
      coef);
  WHET_CUDA_LAUNCH_CHECK();
  normalize_kernel<T><<<l.grid, l.block, 0, ctx.stream()>>>(x, coef, m, c, l.rows, y);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T, class P>
static void launch_batch_norm_backward(const T* gy, const T* x, const P* w, const P* mean,
                                       const P* invstd, bool training, T* gx, P* gw, P* gb,
                                       int64_t m, int64_t c, const Context& ctx) {
  using A = compute_t<T>;
  const bool sums = gw || gb || (gx && training);
  const Layout l = layout(m, c, ctx);
  const int64_t chunks = l.grid.y;
  // coef (C, 5) when gx is wanted, then partial (chunks, C, 2) when sums are
  const int64_t ncoef = gx ? 5 * c : 0, npartial = sums ? chunks * c * 2 : 0;
  DeviceBuffer buf(size_t(ncoef + npartial) * sizeof(A), ctx.device());
  A* coef = gx ? static_cast<A*>(buf.get()) : nullptr;
  A* partial = sums ? static_cast<A*>(buf.get()) + ncoef : nullptr;
  if (sums) {
    grad_sums_kernel<T, P>
        <<<l.grid, l.block, 0, ctx.stream()>>>(gy, x, mean, m, c, l.rows, partial);
    WHET_CUDA_LAUNCH_CHECK();
  }
  grad_finalize_kernel<A, P><<<unsigned(c), kMergeLanes, 0, ctx.stream()>>>(
      partial, chunks, m, c, training, w, mean, invstd, gw, gb, coef);
  WHET_CUDA_LAUNCH_CHECK();
  if (gx) {
    grad_input_kernel<T>
        <<<l.grid, l.block, 0, ctx.stream()>>>(gy, x, coef, m, c, l.rows, training, gx);
    WHET_CUDA_LAUNCH_CHECK();
  }
}

// ---- entry points ----

namespace {

// Calls f(TypeTag<T>, TypeTag<P>) for x's device type T and the parameters' type P: P = T, or
// float for half x (mixed precision keeps BN parameters and statistics in float32).
template <class F>
void dispatch_bn(DType xdt, DType pdt, const char* op, F&& f) {
  dispatch_floating(xdt, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (is_half_v<T>) {
      if (pdt == DType::f32) return f(tag, TypeTag<float>{});
    }
    WHET_CHECK(pdt == xdt, op, ": parameters and statistics must be ", dtype_name(xdt),
               is_half(xdt) ? " or float32" : "", " for ", dtype_name(xdt), " input, got ",
               dtype_name(pdt));
    f(tag, tag);
  });
}

// A per-channel tensor: (C) of the parameters' dtype, when defined.
void check_param(const char* op, const Tensor& t, int64_t c, DType dt, const char* what) {
  if (!t.defined()) return;
  WHET_CHECK(t.dim() == 1 && t.size(0) == c && t.dtype() == dt, op, ": ", what, " must be ",
             dtype_name(dt), " (", c, ",), got ", dtype_name(t.dtype()), " ", shape_str(t.shape()));
}

// An (M, C) tensor shaped and typed as x, when defined.
void check_like_x(const char* op, const Tensor& t, const Tensor& x, const char* what) {
  if (!t.defined()) return;
  WHET_CHECK(t.shape() == x.shape() && t.dtype() == x.dtype(), op, ": ", what, " ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()), " must match input ",
             dtype_name(x.dtype()), " ", shape_str(x.shape()));
}

}  // namespace

void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                Tensor& running_var, bool training, double momentum, double eps, Tensor& y,
                Tensor& save_mean, Tensor& save_invstd) {
  const char* op = "batch_norm";
  WHET_CHECK(x.dim() >= 1 && y.defined() && save_mean.defined() && save_invstd.defined(), op,
             ": needs input (M, C), output, save_mean and save_invstd");
  const int64_t c = x.size(-1);
  const DType pdt = save_mean.dtype();
  check_like_x(op, y, x, "output");
  for (auto [t, what] : {std::pair<const Tensor*, const char*>{&weight, "weight"},
                         {&bias, "bias"},
                         {&running_mean, "running_mean"},
                         {&running_var, "running_var"},
                         {&save_mean, "save_mean"},
                         {&save_invstd, "save_invstd"}})
    check_param(op, *t, c, pdt, what);
  WHET_CHECK(training || (running_mean.defined() && running_var.defined()), op,
             ": evaluation mode needs running_mean and running_var");
  WHET_CHECK(c <= INT_MAX, op, ": ", c, " channels are more than the kernels take (2^31 - 1)");
  if (x.numel() == 0) return;
  const int64_t m = x.numel() / c;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_bn(x.dtype(), pdt, op, [&](auto xt, auto pt) {
    using T = typename decltype(xt)::type;
    using P = typename decltype(pt)::type;
    launch_batch_norm<T, P>(ptr<const T>(x), ptr<const P>(weight), ptr<const P>(bias),
                            ptr<P>(running_mean), ptr<P>(running_var), training, momentum, eps,
                            ptr<T>(y), ptr<P>(save_mean), ptr<P>(save_invstd), m, c, ctx);
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         Tensor& gx, Tensor& gw, Tensor& gb) {
  const char* op = "batch_norm_backward";
  WHET_CHECK(x.dim() >= 1 && gy.defined() && save_mean.defined() && save_invstd.defined(), op,
             ": needs grad_output, input (M, C) and save_mean, save_invstd");
  const int64_t c = x.size(-1);
  const DType pdt = save_mean.dtype();
  check_like_x(op, gy, x, "grad_output");
  check_like_x(op, gx, x, "grad_input");
  for (auto [t, what] : {std::pair<const Tensor*, const char*>{&weight, "weight"},
                         {&save_mean, "save_mean"},
                         {&save_invstd, "save_invstd"},
                         {&gw, "grad_weight"},
                         {&gb, "grad_bias"}})
    check_param(op, *t, c, pdt, what);
  WHET_CHECK(c <= INT_MAX, op, ": ", c, " channels are more than the kernels take (2^31 - 1)");
  if (x.numel() == 0 || (!gx.defined() && !gw.defined() && !gb.defined())) return;
  const int64_t m = x.numel() / c;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_bn(x.dtype(), pdt, op, [&](auto xt, auto pt) {
    using T = typename decltype(xt)::type;
    using P = typename decltype(pt)::type;
    launch_batch_norm_backward<T, P>(ptr<const T>(gy), ptr<const T>(x), ptr<const P>(weight),
                                     ptr<const P>(save_mean), ptr<const P>(save_invstd), training,
                                     ptr<T>(gx), ptr<P>(gw), ptr<P>(gb), m, c, ctx);
  });
}

}  // namespace whet::cuda
