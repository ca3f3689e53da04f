// Reductions over the middle axis of x viewed as (outer, R, inner).
//
// The work is a set of lines: line c = o * inner + j reads x[o, k, j] for k in [0, R), a
// stride of `inner` apart. A Layout says how a block's threads share lines:
//   rows    (inner == 1, R > 16): the line is contiguous, so a warp (R <= 1024) or the whole
//           block reads it, consecutive threads on consecutive elements (16-byte loads when
//           aligned), combined by warp shuffles and then across warps;
//   columns (otherwise): consecutive threads take consecutive lines, so a step along R reads
//           neighbouring j together (coalesced), and `width` threads (1 to 8) split one
//           line's R, combined through shared memory.
// When the lines are too few to fill the device (a full sum, the per-channel sum of an NHWC
// gradient) R is also cut into chunks: each chunk's state goes to a workspace (lines, splits)
// and a second launch reduces those rows. Every line combines in a fixed order, so results are
// deterministic run to run (though not equal bit for bit to the CPU's sequential sum).
#include "kernels/cuda/reduce.cuh"

#include <algorithm>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"

namespace whet::cuda {

namespace {

// Half types and float accumulate in float, double in double, integers in int64.
template <class T>
using acc_t = std::conditional_t<std::is_integral_v<T>, int64_t, compute_t<T>>;

template <class C>
__device__ __forceinline__ bool is_nan(C v) {
  if constexpr (std::is_integral_v<C>)
    return false;
  else
    return isnan(v);
}

// A reducer: its per-line State, identity, make (one element at index k), combine, and
// finish (the value written to out). sum/mean write x's dtype.
template <class T, bool kMean>
struct SumOp {
  using State = acc_t<T>;
  using Out = T;
  __device__ static State identity() { return State(0); }
  __device__ static State make(T v, int64_t) { return cast_to<State>(v); }
  __device__ static State combine(State a, State b) { return a + b; }
  __device__ static Out finish(State s, int64_t r) {
    if constexpr (kMean) {
      // The CPU's integer mean of an empty R is undefined (NaN to int64); ops never ask for it.
      if constexpr (std::is_integral_v<T>)
        s = r ? s / r : State(0);
      else
        s = r ? s / State(r) : State(NAN);
    }
    return cast_to<T>(s);
  }
};

// max/min and argmax/argmin. As on the CPU, NaN wins and ties keep the first index; the index
// decides every tie here, so any combining order gives the CPU's first occurrence (and the
// first of -0 and +0). Integers compare as themselves (the CPU goes through double, which
// only differs for int64 beyond 2^53).
template <class T, bool kMax, bool kArg>
struct ExtremeOp {
  struct State {
    T v;
    int64_t k;  // index along R; -1 for the identity (no element yet)
  };
  using Out = std::conditional_t<kArg, int64_t, T>;
  __device__ static State identity() { return {T(), -1}; }
  __device__ static State make(T v, int64_t k) { return {v, k}; }
  __device__ static State combine(State a, State b) {
    if (b.k < 0) return a;
    if (a.k < 0) return b;
    using C = compute_t<T>;
    C av = cast_to<C>(a.v), bv = cast_to<C>(b.v);
    bool an = is_nan(av), bn = is_nan(bv), take_b;
    if (an || bn)
      take_b = bn && (!an || b.k < a.k);
    else if (av == bv)
      take_b = b.k < a.k;
    else
      take_b = kMax ? bv > av : bv < av;
    return take_b ? b : a;
  }
  __device__ static Out finish(State s, int64_t) {
    if constexpr (kArg)
      return s.k;
    else
      return s.v;
  }
};

// Calls f(Reducer{}) for `op` over element type T.
template <class T, class F>
void with_reducer(ReduceOp op, F&& f) {
  // clang-format off
  switch (op) {
    case ReduceOp::sum: return f(SumOp<T, false>{});
    case ReduceOp::mean: return f(SumOp<T, true>{});
    case ReduceOp::max: return f(ExtremeOp<T, true, false>{});
    case ReduceOp::min: return f(ExtremeOp<T, false, false>{});
    case ReduceOp::argmax: return f(ExtremeOp<T, true, true>{});
    case ReduceOp::argmin: return f(ExtremeOp<T, false, true>{});
  }
  // clang-format on
  WHET_FAIL("reduce: unknown op ", int(op));
}

struct Layout {
  bool rows;
  int width;  // threads per line
  int lines;  // lines per block: kThreads / width
};

// __shfl_down_sync for any state, moved as 32-bit words (argmax states are 16 bytes).
template <class S>
__device__ __forceinline__ S shfl_down(S v, int delta) {
  static_assert(sizeof(S) % 4 == 0, "states are whole 32-bit words");
  uint32_t w[sizeof(S) / 4];
  memcpy(w, &v, sizeof(S));
#pragma unroll
  for (int i = 0; i < int(sizeof(S) / 4); ++i) w[i] = __shfl_down_sync(0xffffffffu, w[i], delta);
  memcpy(&v, w, sizeof(S));
  return v;
}

// The line's state, complete in the line's lane 0. Every thread of the block calls this
// (the layout is uniform), so the barriers inside are safe; smem holds kThreads states.
template <class R, class S>
__device__ S line_reduce(const Layout& L, S v, S* smem, int slot, int lane) {
  if (L.rows) {
    for (int off = 16; off > 0; off >>= 1) v = R::combine(v, shfl_down(v, off));
    if (L.width == 32) return v;
    if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x == 0)
      for (int w = 1; w < int(blockDim.x / 32); ++w) v = R::combine(v, smem[w]);
    __syncthreads();  // smem is rewritten for the block's next line
    return v;
  }
  if (L.width == 1) return v;
  smem[threadIdx.x] = v;
  __syncthreads();
  if (lane == 0)
    for (int g = 1; g < L.width; ++g) v = R::combine(v, smem[g * L.lines + slot]);
  __syncthreads();
  return v;
}

// One thread's share of a line: elements lane, lane + width, ... of the len at p (a stride
// apart), whose indices along R start at k0. A partial input holds states, already indexed.
template <class R, bool kPartial, class In>
__device__ typename R::State thread_reduce(const In* p, int64_t len, int64_t stride, int64_t k0,
                                           int lane, int width) {
  typename R::State acc = R::identity();
  int64_t k = lane;
  if constexpr (!kPartial) {
    constexpr int N = vec_width<In>();
    if (N > 1 && stride == 1 && reinterpret_cast<uintptr_t>(p) % 16 == 0) {
      const int64_t nv = len / N;
      for (int64_t v = lane; v < nv; v += width) {
        Vec<In, N> a = load_vec<N>(p, v);
#pragma unroll
        for (int e = 0; e < N; ++e) acc = R::combine(acc, R::make(a.v[e], k0 + v * N + e));
      }
      k = nv * N + lane;
    }
  }
  for (; k < len; k += width) {
    if constexpr (kPartial)
      acc = R::combine(acc, p[k * stride]);
    else
      acc = R::combine(acc, R::make(p[k * stride], k0 + k));
  }
  return acc;
}

}  // namespace

// x (outer, R, inner) as `lines` lines, each cut into `splits` chunks of `chunk` elements
// along R: writes out (lines) when splits == 1, else partial (lines, splits). With kPartial,
// x is such a partial (lines, R) of states. r_total is the mean's divisor.
template <class R, bool kPartial, class In>
static __global__ void reduce_kernel(const In* __restrict__ x, int64_t lines, int64_t r,
                                     int64_t inner, int64_t splits, int64_t chunk, int64_t r_total,
                                     Layout L, typename R::State* __restrict__ partial,
                                     typename R::Out* __restrict__ out) {
  using S = typename R::State;
  __shared__ __align__(16) unsigned char smem_raw[kThreads * sizeof(S)];
  S* smem = reinterpret_cast<S*>(smem_raw);
  const int slot = L.rows ? threadIdx.x / L.width : threadIdx.x % L.lines;
  const int lane = L.rows ? threadIdx.x % L.width : threadIdx.x / L.lines;
  const int64_t items = lines * splits;
  // The loop bound is the same for the whole block, as line_reduce's barriers need.
  for (int64_t first = int64_t(blockIdx.x) * L.lines; first < items;
       first += int64_t(gridDim.x) * L.lines) {
    const int64_t item = first + slot;
    // Items run through the lines first, so neighbouring threads read neighbouring columns.
    const int64_t c = item % lines, sp = item / lines;
    S acc = R::identity();
    if (item < items) {
      const int64_t k0 = sp * chunk, len = std::min(chunk, r - k0);
      const In* p = x + ((c / inner) * r + k0) * inner + c % inner;  // &x[o, k0, j]
      acc = thread_reduce<R, kPartial>(p, len, inner, k0, lane, L.width);
    }
    acc = line_reduce<R>(L, acc, smem, slot, lane);
    if (lane == 0 && item < items) {
      if (splits == 1)
        out[c] = R::finish(acc, r_total);
      else
        partial[c * splits + sp] = acc;
    }
  }
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Plan {
  Layout layout;
  int64_t splits, chunk;
  int grid;
};

// Blocks of kThreads that keep every SM full (2048 threads each).
int64_t full_blocks(const Context& ctx) { return int64_t(ctx.sm_count()) * (2048 / kThreads); }

Plan make_plan(int64_t lines, int64_t r, int64_t inner, bool may_split, const Context& ctx) {
  Plan p{};
  if (inner == 1 && r > 16) {
    bool warp = r <= 1024;
    p.layout = {true, warp ? 32 : kThreads, warp ? kThreads / 32 : 1};
  } else {
    // More threads per line only while the lines alone leave the device half idle.
    int width = 1;
    while (width < 8 && width < r && lines * width * 2 <= full_blocks(ctx) * kThreads) width *= 2;
    p.layout = {false, width, kThreads / width};
  }
  p.splits = 1;
  p.chunk = r;
  const int64_t tiles = ceil_div(lines, p.layout.lines);
  // At least 16 elements per thread per chunk, so that the second pass stays small.
  const int64_t min_chunk = int64_t(p.layout.width) * 16;
  if (may_split && tiles < full_blocks(ctx) && r >= 4 * min_chunk) {
    int64_t splits = std::min(ceil_div(full_blocks(ctx), tiles), r / min_chunk);
    // A multiple of 16 elements keeps every chunk of an aligned row 16-byte aligned.
    p.chunk = ceil_div(ceil_div(r, splits), 16) * 16;
    p.splits = ceil_div(r, p.chunk);
  }
  const int64_t blocks = ceil_div(lines * p.splits, p.layout.lines);
  p.grid = int(std::min<int64_t>(blocks, int64_t(ctx.sm_count()) * 16));
  return p;
}

}  // namespace

template <class R, class T>
static void launch_reduce(const T* x, int64_t outer, int64_t r, int64_t inner, typename R::Out* out,
                          int dev, const Context& ctx) {
  using S = typename R::State;
  const int64_t lines = outer * inner;
  const Plan p = make_plan(lines, r, inner, true, ctx);
  if (p.splits == 1) {
    reduce_kernel<R, false, T><<<p.grid, kThreads, 0, ctx.stream()>>>(
        x, lines, r, inner, 1, p.chunk, r, p.layout, nullptr, out);
    WHET_CUDA_LAUNCH_CHECK();
    return;
  }
  DeviceBuffer partial(size_t(lines * p.splits) * sizeof(S), dev);  // (lines, splits)
  S* ps = static_cast<S*>(partial.get());
  reduce_kernel<R, false, T><<<p.grid, kThreads, 0, ctx.stream()>>>(
      x, lines, r, inner, p.splits, p.chunk, r, p.layout, ps, nullptr);
  WHET_CUDA_LAUNCH_CHECK();
  const Plan q = make_plan(lines, p.splits, 1, false, ctx);
  reduce_kernel<R, true, S><<<q.grid, kThreads, 0, ctx.stream()>>>(
      ps, lines, p.splits, 1, 1, p.splits, r, q.layout, nullptr, out);
  WHET_CUDA_LAUNCH_CHECK();
}

void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out) {
  const char* name = reduce_op_name(op);
  const bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  WHET_CHECK(outer >= 0 && r >= 0 && inner >= 0 && x.numel() == outer * r * inner, name,
             ": x of shape ", shape_str(x.shape()), " is not (outer ", outer, ", R ", r, ", inner ",
             inner, ")");
  WHET_CHECK(out.numel() == outer * inner, name, ": out of shape ", shape_str(out.shape()),
             " for (outer ", outer, ", inner ", inner, ")");
  const DType want = arg ? DType::i64 : x.dtype();
  WHET_CHECK(out.dtype() == want, name, ": out is ", dtype_name(out.dtype()), " for ",
             dtype_name(x.dtype()), " x; expected ", dtype_name(want));
  WHET_CHECK(r > 0 || op == ReduceOp::sum || op == ReduceOp::mean, name,
             ": cannot reduce over an empty dimension (R = 0) of ", shape_str(x.shape()));
  if (out.numel() == 0) return;
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch<DTypeSet::numeric>(x.dtype(), name, [&](auto tag) {
    using T = device_t<typename decltype(tag)::type>;
    // dispatch instantiates every dtype but rejects bool before calling: no kernels for it.
    if constexpr (!std::is_same_v<T, bool>) {
      with_reducer<T>(op, [&](auto reducer) {
        using R = decltype(reducer);
        launch_reduce<R>(static_cast<const T*>(x.raw_data()), outer, r, inner,
                         static_cast<typename R::Out*>(out.raw_data()), dev, ctx);
      });
    }
  });
}

}  // namespace whet::cuda
