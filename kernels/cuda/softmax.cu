// Softmax, log-softmax and the fused cross-entropy, the CUDA twins of kernels/cpu/softmax.cpp,
// formula for formula; half types compute in float, float in float, double in double (the
// CPU's float32 kernels sum in double, so float32 results differ by rounding).
//
// A line is one softmax: x[o, k, j] for k in [0, D), `inner` apart (a cross-entropy line is
// one sample's logits). Threads share lines as in reduce.cu: rows (inner == 1, D > 16) give a
// line to a warp (D <= 1024) or to a whole block; otherwise consecutive threads take
// consecutive lines (coalesced over j) and up to 8 threads split each line's D. A line's max
// and sum are all-reduced in a fixed order, so all its threads use the same values and results
// are deterministic. Each sweep re-reads the line (from L1/L2), so D is unbounded.
#include "kernels/cuda/softmax.cuh"

#include <algorithm>
#include <memory>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/math.cuh"

namespace whet::cuda {

namespace {

constexpr int kMaxThreads = 1024;  // a rows block, when a few long lines must share the device

struct Layout {
  bool rows;
  int width;  // threads per line
  int lines;  // lines per block
};

// std::max's order, as the CPU's running max: a NaN element never replaces it.
struct Max {
  template <class C>
  __device__ C operator()(C a, C b) const {
    return dm::max(a, b);
  }
};
struct Add {
  template <class C>
  __device__ C operator()(C a, C b) const {
    return a + b;
  }
};

__device__ __forceinline__ int line_slot(const Layout& L) {
  return L.rows ? threadIdx.x / L.width : threadIdx.x % L.lines;
}
__device__ __forceinline__ int line_lane(const Layout& L) {
  return L.rows ? threadIdx.x % L.width : threadIdx.x / L.lines;
}
// &x[o, 0, j] for line c = o * inner + j of x (outer, D, inner).
__device__ __forceinline__ int64_t line_base(int64_t c, int64_t d, int64_t inner) {
  return (c / inner) * d * inner + c % inner;
}

// Every thread of a line gets the line's reduction of v. Every thread of the block calls this
// the same number of times (the layout is uniform), so the barriers are safe; smem holds
// kThreads values.
template <class C, class Op>
__device__ C line_all_reduce(const Layout& L, C v, Op op, C* smem, int slot, int lane) {
  if (L.rows) {
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, off));
    if (L.width == 32) return __shfl_sync(0xffffffffu, v, 0);
    if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
    __syncthreads();
    v = smem[0];
    for (int w = 1; w < int(blockDim.x / 32); ++w) v = op(v, smem[w]);
    __syncthreads();  // smem is rewritten by the next call
    return v;
  }
  if (L.width == 1) return v;
  smem[threadIdx.x] = v;
  __syncthreads();
  v = smem[slot];
  for (int g = 1; g < L.width; ++g) v = op(v, smem[g * L.lines + slot]);
  __syncthreads();
  return v;
}

}  // namespace

// x, y (outer, D, inner) normalised over D, as `lines` = outer * inner lines.
template <class T>
static __global__ void __launch_bounds__(kMaxThreads)
    softmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t lines, int64_t d,
                   int64_t inner, bool log, Layout L) {
  using C = compute_t<T>;
  __shared__ C smem[kThreads];
  const int slot = line_slot(L), lane = line_lane(L);
  for (int64_t first = int64_t(blockIdx.x) * L.lines; first < lines;
       first += int64_t(gridDim.x) * L.lines) {
    const int64_t c = first + slot;
    const bool valid = c < lines;
    const int64_t base = valid ? line_base(c, d, inner) : 0;
    const T* xl = x + base;
    C mx = C(-INFINITY);
    if (valid)
      for (int64_t k = lane; k < d; k += L.width) mx = dm::max(mx, cast_to<C>(xl[k * inner]));
    mx = line_all_reduce(L, mx, Max{}, smem, slot, lane);
    C sum = C(0);
    if (valid)
      for (int64_t k = lane; k < d; k += L.width) sum += dm::exp(cast_to<C>(xl[k * inner]) - mx);
    sum = line_all_reduce(L, sum, Add{}, smem, slot, lane);
    if (!valid) continue;  // no barrier follows in this step
    T* yl = y + base;
    if (log) {
      const C shift = mx + dm::log(sum);
      for (int64_t k = lane; k < d; k += L.width)
        yl[k * inner] = cast_to<T>(cast_to<C>(xl[k * inner]) - shift);
    } else {
      const C rs = C(1) / sum;
      for (int64_t k = lane; k < d; k += L.width)
        yl[k * inner] = cast_to<T>(dm::exp(cast_to<C>(xl[k * inner]) - mx) * rs);
    }
  }
}

// y, gy, gx (outer, D, inner).
// softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy).
template <class T>
static __global__ void __launch_bounds__(kMaxThreads)
    softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx,
                            int64_t lines, int64_t d, int64_t inner, bool log, Layout L) {
  using C = compute_t<T>;
  __shared__ C smem[kThreads];
  const int slot = line_slot(L), lane = line_lane(L);
  for (int64_t first = int64_t(blockIdx.x) * L.lines; first < lines;
       first += int64_t(gridDim.x) * L.lines) {
    const int64_t c = first + slot;
    const bool valid = c < lines;
    const int64_t base = valid ? line_base(c, d, inner) : 0;
    const T *yl = y + base, *gl = gy + base;
    C dot = C(0);
    if (valid) {
      for (int64_t k = lane; k < d; k += L.width) {
        const C g = cast_to<C>(gl[k * inner]);
        dot += log ? g : g * cast_to<C>(yl[k * inner]);
      }
    }
    dot = line_all_reduce(L, dot, Add{}, smem, slot, lane);
    if (!valid) continue;
    T* ol = gx + base;
    for (int64_t k = lane; k < d; k += L.width) {
      const C yv = cast_to<C>(yl[k * inner]), g = cast_to<C>(gl[k * inner]);
      ol[k * inner] = cast_to<T>(log ? g - dm::exp(yv) * dot : yv * (g - dot));
    }
  }
}

// Per sample i with target t, weights w (1 when null), s = lse, eps = label smoothing:
//   loss_i = (1 - eps) * w_t * (s - z_t) + eps / C * sum_c w_c * (s - z_c)
// logits z (N, C), target (N), w (C) or null -> losses (N) (0 where ignored), lse (N).
// A target neither ignored nor in [0, C) gives a NaN loss: the CPU throws, a kernel cannot.
template <class T>
static __global__ void __launch_bounds__(kMaxThreads)
    cross_entropy_kernel(const T* __restrict__ z, const int64_t* __restrict__ target,
                         const T* __restrict__ w, int64_t n, int64_t c, int64_t ignore, double eps,
                         Layout L, T* __restrict__ losses, T* __restrict__ lse) {
  using C = compute_t<T>;
  __shared__ C smem[kThreads];
  const int slot = line_slot(L), lane = line_lane(L);
  for (int64_t first = int64_t(blockIdx.x) * L.lines; first < n;
       first += int64_t(gridDim.x) * L.lines) {
    const int64_t i = first + slot;
    const bool valid = i < n;
    const T* zl = z + (valid ? i : 0) * c;
    C mx = C(-INFINITY);
    if (valid)
      for (int64_t k = lane; k < c; k += L.width) mx = dm::max(mx, cast_to<C>(zl[k]));
    mx = line_all_reduce(L, mx, Max{}, smem, slot, lane);
    C sum = C(0);
    if (valid)
      for (int64_t k = lane; k < c; k += L.width) sum += dm::exp(cast_to<C>(zl[k]) - mx);
    sum = line_all_reduce(L, sum, Add{}, smem, slot, lane);
    const C s = mx + dm::log(sum);
    const int64_t t = valid ? target[i] : ignore;
    const bool counted = t != ignore && t >= 0 && t < c;
    C smooth = C(0);
    if (eps > 0) {  // the same for the whole block: the barriers stay uniform
      if (valid && counted) {
        for (int64_t k = lane; k < c; k += L.width)
          smooth += (w ? cast_to<C>(w[k]) : C(1)) * (s - cast_to<C>(zl[k]));
      }
      smooth = line_all_reduce(L, smooth, Add{}, smem, slot, lane);
    }
    if (!valid || lane != 0) continue;
    lse[i] = cast_to<T>(s);
    C loss = C(0);
    if (t != ignore && !counted) {
      loss = C(NAN);
    } else if (counted) {
      loss = C(1 - eps) * (w ? cast_to<C>(w[t]) : C(1)) * (s - cast_to<C>(zl[t]));
      if (eps > 0) loss += C(eps / double(c)) * smooth;
    }
    losses[i] = cast_to<T>(loss);
  }
}

// out[0] = the sum over samples not ignored of w[target[i]] (1 without w, NaN for a target out
// of range), or with target null, the sum of w (n = C). One block: a fixed order, no atomics.
template <class T, class O>
static __global__ void __launch_bounds__(kMaxThreads)
    weight_total_kernel(const int64_t* __restrict__ target, const T* __restrict__ w, int64_t n,
                        int64_t c, int64_t ignore, O* __restrict__ out) {
  __shared__ double smem[32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    if (!target) {
      acc += cast_to<double>(w[i]);
      continue;
    }
    const int64_t t = target[i];
    if (t == ignore) continue;
    acc += t < 0 || t >= c ? double(NAN) : w ? cast_to<double>(w[t]) : 1.0;
  }
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x != 0) return;
  for (int k = 1; k < int(blockDim.x / 32); ++k) acc += smem[k];
  out[0] = cast_to<O>(acc);
}

// d loss_i / d z_j = p_j * ((1 - eps) * w_t + eps / C * w_total) - (1 - eps) * w_t * [j == t]
//                    - eps / C * w_j,   p = exp(z - lse), scaled by glosses_i.
// g (N, C); w_total points at sum(w), or is null for C (no weights, or eps == 0 where unused).
template <class T, class I>
static __global__ void cross_entropy_backward_kernel(
    const T* __restrict__ z, const int64_t* __restrict__ target, const T* __restrict__ w,
    const T* __restrict__ lse, const T* __restrict__ glosses, const double* __restrict__ w_total,
    int64_t n, int64_t c, int64_t ignore, double eps, T* __restrict__ g) {
  using C = compute_t<T>;
  const C eps_c = C(eps / double(c)), total = w_total ? C(*w_total) : C(c);
  for (int64_t e = thread_index(); e < n * c; e += thread_count()) {
    const I i = I(e) / I(c), j = I(e) - i * I(c);
    const int64_t t = target[i];
    C v = C(0);
    if (t != ignore && (t < 0 || t >= c)) {
      v = C(NAN);
    } else if (t != ignore) {
      const C wt = C(1 - eps) * (w ? cast_to<C>(w[t]) : C(1));
      const C p = dm::exp(cast_to<C>(z[e]) - cast_to<C>(lse[i]));
      v = p * (wt + eps_c * total) - eps_c * (w ? cast_to<C>(w[j]) : C(1)) -
          (int64_t(j) == t ? wt : C(0));
      v *= cast_to<C>(glosses[i]);
    }
    g[e] = cast_to<T>(v);
  }
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Plan {
  Layout layout;
  int threads, grid;
};

Plan make_plan(int64_t lines, int64_t d, int64_t inner, const Context& ctx) {
  const int64_t sm = ctx.sm_count();
  Plan p{};
  p.threads = kThreads;
  if (inner == 1 && d > 16) {
    if (d <= 1024) {
      p.layout = {true, 32, kThreads / 32};
    } else {
      if (lines < 2 * sm) p.threads = kMaxThreads;
      p.layout = {true, p.threads, 1};
    }
  } else {
    // More threads per line only while the lines alone leave the device half idle.
    int width = 1;
    while (width < 8 && width < d && lines * width * 2 <= sm * 2048) width *= 2;
    p.layout = {false, width, kThreads / width};
  }
  const int64_t blocks = ceil_div(lines, p.layout.lines);
  p.grid = int(std::min<int64_t>(blocks, sm * (2048 / p.threads) * 2));
  return p;
}

void check_lines(const char* op, const Tensor& a, const char* what, DType dt, int64_t outer,
                 int64_t d, int64_t inner) {
  WHET_CHECK(
      a.dtype() == dt && outer >= 0 && d >= 0 && inner >= 0 && a.numel() == outer * d * inner, op,
      ": ", what, " ", shape_str(a.shape()), " ", dtype_name(a.dtype()), " is not (outer ", outer,
      ", D ", d, ", inner ", inner, ") ", dtype_name(dt));
}

void check_vector(const char* op, const Tensor& a, const char* what, int64_t n, DType dt) {
  WHET_CHECK(a.numel() == n && a.dtype() == dt, op, ": ", what, " ", shape_str(a.shape()), " ",
             dtype_name(a.dtype()), " should hold ", n, " ", dtype_name(dt));
}

// The shared argument checks of both cross-entropy entries: logits (N, C), target (N) int64,
// class_weight (C) or undefined.
void check_cross_entropy(const char* op, const Tensor& logits, const Tensor& target,
                         const Tensor& class_weight) {
  WHET_CHECK(logits.dim() == 2, op, ": logits ", shape_str(logits.shape()), " is not (N, C)");
  check_vector(op, target, "target", logits.size(0), DType::i64);
  if (class_weight.defined())
    check_vector(op, class_weight, "class_weight", logits.size(1), logits.dtype());
}

}  // namespace

void softmax(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& y) {
  const char* op = log ? "log_softmax" : "softmax";
  check_lines(op, x, "x", x.dtype(), outer, d, inner);
  check_lines(op, y, "y", x.dtype(), outer, d, inner);
  if (x.numel() == 0) return;
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Plan p = make_plan(outer * inner, d, inner, ctx);
    softmax_kernel<T><<<p.grid, p.threads, 0, ctx.stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), outer * inner, d, inner,
        log, p.layout);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d, int64_t inner,
                      bool log, Tensor& gx) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_lines(op, y, "y", y.dtype(), outer, d, inner);
  check_lines(op, gy, "gy", y.dtype(), outer, d, inner);
  check_lines(op, gx, "gx", y.dtype(), outer, d, inner);
  if (y.numel() == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(y.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Plan p = make_plan(outer * inner, d, inner, ctx);
    softmax_backward_kernel<T><<<p.grid, p.threads, 0, ctx.stream()>>>(
        static_cast<const T*>(y.raw_data()), static_cast<const T*>(gy.raw_data()),
        static_cast<T*>(gx.raw_data()), outer * inner, d, inner, log, p.layout);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                   const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum, Tensor& lse) {
  const char* op = "cross_entropy";
  check_cross_entropy(op, logits, target, class_weight);
  const int64_t n = logits.size(0), c = logits.size(1);
  check_vector(op, losses, "losses", n, logits.dtype());
  check_vector(op, lse, "lse", n, logits.dtype());
  check_vector(op, weight_sum, "weight_sum", 1, logits.dtype());
  const int dev = logits.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(logits.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* w = class_weight.defined() ? static_cast<const T*>(class_weight.raw_data()) : nullptr;
    const int64_t* t = static_cast<const int64_t*>(target.raw_data());
    if (n > 0) {
      const Plan p = make_plan(n, c, 1, ctx);
      cross_entropy_kernel<T><<<p.grid, p.threads, 0, ctx.stream()>>>(
          static_cast<const T*>(logits.raw_data()), t, w, n, c, o.ignore_index, o.label_smoothing,
          p.layout, static_cast<T*>(losses.raw_data()), static_cast<T*>(lse.raw_data()));
      WHET_CUDA_LAUNCH_CHECK();
    }
    // weight_sum is written even for N == 0 (as 0, the CPU's value).
    weight_total_kernel<T, T><<<1, kMaxThreads, 0, ctx.stream()>>>(
        t, w, n, c, o.ignore_index, static_cast<T*>(weight_sum.raw_data()));
    WHET_CUDA_LAUNCH_CHECK();
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                            const CrossEntropyOptions& o, const Tensor& lse, const Tensor& glosses,
                            Tensor& glogits) {
  const char* op = "cross_entropy_backward";
  check_cross_entropy(op, logits, target, class_weight);
  const int64_t n = logits.size(0), c = logits.size(1);
  check_vector(op, lse, "lse", n, logits.dtype());
  check_vector(op, glosses, "glosses", n, logits.dtype());
  check_vector(op, glogits, "glogits", n * c, logits.dtype());
  if (n * c == 0) return;
  const int dev = logits.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(logits.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* w = class_weight.defined() ? static_cast<const T*>(class_weight.raw_data()) : nullptr;
    // sum(w) matters only with label smoothing; one block sums it on the device.
    std::unique_ptr<DeviceBuffer> total;
    if (w && o.label_smoothing > 0) {
      total = std::make_unique<DeviceBuffer>(sizeof(double), dev);
      weight_total_kernel<T, double><<<1, kMaxThreads, 0, ctx.stream()>>>(
          nullptr, w, c, c, o.ignore_index, static_cast<double*>(total->get()));
      WHET_CUDA_LAUNCH_CHECK();
    }
    const double* pt = total ? static_cast<const double*>(total->get()) : nullptr;
    auto launch = [&](auto index_tag) {
      using I = decltype(index_tag);
      cross_entropy_backward_kernel<T, I><<<grid_for(n * c, ctx), kThreads, 0, ctx.stream()>>>(
          static_cast<const T*>(logits.raw_data()), static_cast<const int64_t*>(target.raw_data()),
          w, static_cast<const T*>(lse.raw_data()), static_cast<const T*>(glosses.raw_data()), pt,
          n, c, o.ignore_index, o.label_smoothing, static_cast<T*>(glogits.raw_data()));
      WHET_CUDA_LAUNCH_CHECK();
    };
    if (n * c <= int64_t(UINT32_MAX))
      launch(uint32_t{});
    else
      launch(int64_t{});
  });
}

}  // namespace whet::cuda
