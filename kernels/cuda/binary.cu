#include "kernels/cuda/binary.cuh"

#include "kernels/cuda/common.cuh"

namespace whet::cuda {

// ---- the ops, over the compute type C; formulas as the CPU kernel's ----

#define WHET_BINARY_OP(Name, expr)                               \
  struct Name {                                                  \
    template <class C>                                           \
    __device__ __forceinline__ auto operator()(C x, C y) const { \
      return expr;                                               \
    }                                                            \
  };
// clang-format off
WHET_BINARY_OP(Add, x + y)
WHET_BINARY_OP(Sub, x - y)
WHET_BINARY_OP(Mul, x * y)
WHET_BINARY_OP(Div, x / y)
WHET_BINARY_OP(Pow, C(::pow(double(x), double(y))))  // in double for every type, as the CPU
WHET_BINARY_OP(Maximum, x > y || x != x ? x : y)      // NaN propagates
WHET_BINARY_OP(Minimum, x < y || x != x ? x : y)
WHET_BINARY_OP(Eq, x == y)
WHET_BINARY_OP(Ne, x != y)
WHET_BINARY_OP(Lt, x < y)
WHET_BINARY_OP(Le, x <= y)
WHET_BINARY_OP(Gt, x > y)
WHET_BINARY_OP(Ge, x >= y)
// clang-format on
#undef WHET_BINARY_OP

template <class F>
static void with_binary_op(BinaryOp op, F&& f) {
  // clang-format off
  switch (op) {
    case BinaryOp::add: return f(Add{});
    case BinaryOp::sub: return f(Sub{});
    case BinaryOp::mul: return f(Mul{});
    case BinaryOp::div: return f(Div{});
    case BinaryOp::pow: return f(Pow{});
    case BinaryOp::maximum: return f(Maximum{});
    case BinaryOp::minimum: return f(Minimum{});
    case BinaryOp::eq: return f(Eq{});
    case BinaryOp::ne: return f(Ne{});
    case BinaryOp::lt: return f(Lt{});
    case BinaryOp::le: return f(Le{});
    case BinaryOp::gt: return f(Gt{});
    case BinaryOp::ge: return f(Ge{});
  }
  // clang-format on
  WHET_FAIL("binary: unknown op ", int(op));
}

// Half types compute in float, integers in int64, float and double in themselves.
template <class T>
using binary_compute_t = std::conditional_t<std::is_integral_v<T>, int64_t, compute_t<T>>;

// out = op(x, y) converted to the output type R (T for arithmetic, bool for comparisons).
template <class R, class Op, class T>
__device__ __forceinline__ R apply(Op op, T x, T y) {
  using C = binary_compute_t<T>;
  return cast_to<R>(op(cast_to<C>(x), cast_to<C>(y)));
}

// ---- kernels ----

// The fast path: a, b and out all of n elements, or one operand a single scalar.
enum class Operands : int { same_shape, scalar_a, scalar_b };

// a (n | 1), b (n | 1) -> out (n)
template <class Op, class T, class R>
static __global__ void binary_flat_kernel(Op op, const T* __restrict__ a, const T* __restrict__ b,
                                          R* __restrict__ out, int64_t n, Operands mode, bool vec) {
  constexpr int N = vec_width<T, R>();
  const bool sa = mode == Operands::scalar_a, sb = mode == Operands::scalar_b;
  const T a0 = sa ? a[0] : T(), b0 = sb ? b[0] : T();
  grid_stride<N>(
      n, vec,
      [&](int64_t i) {
        Vec<T, N> va, vb;
        if (!sa) va = load_vec<N>(a, i);
        if (!sb) vb = load_vec<N>(b, i);
        Vec<R, N> r;
#pragma unroll
        for (int j = 0; j < N; ++j) r.v[j] = apply<R>(op, sa ? a0 : va.v[j], sb ? b0 : vb.v[j]);
        store_vec<N>(out, i, r);
      },
      [&](int64_t i) { out[i] = apply<R>(op, sa ? a0 : a[i], sb ? b0 : b[i]); });
}

// Broadcast indexing: out's shape with size-1 dims dropped and contiguous runs merged; an
// operand's stride is 0 along the dims it broadcasts.
constexpr int kMaxDims = 16;
struct BroadcastIndex {
  int ndim;
  int64_t size[kMaxDims];
  int64_t stride_a[kMaxDims];
  int64_t stride_b[kMaxDims];
};

template <class I>
__device__ __forceinline__ void broadcast_offsets(const BroadcastIndex& ix, I i, I& oa, I& ob) {
  oa = 0, ob = 0;
  for (int d = ix.ndim - 1; d >= 0; --d) {
    I extent = I(ix.size[d]);
    I c = i % extent;
    i /= extent;
    oa += c * I(ix.stride_a[d]);
    ob += c * I(ix.stride_b[d]);
  }
}

// a, b broadcast to out (n), indexed through ix; 32-bit index math when n allows.
template <class Op, class T, class R>
static __global__ void binary_broadcast_kernel(Op op, const T* __restrict__ a,
                                               const T* __restrict__ b, R* __restrict__ out,
                                               int64_t n, BroadcastIndex ix) {
  if (n <= INT32_MAX) {
    for (int64_t i = thread_index(); i < n; i += thread_count()) {
      uint32_t oa, ob;
      broadcast_offsets<uint32_t>(ix, uint32_t(i), oa, ob);
      out[i] = apply<R>(op, a[oa], b[ob]);
    }
  } else {
    for (int64_t i = thread_index(); i < n; i += thread_count()) {
      int64_t oa, ob;
      broadcast_offsets<int64_t>(ix, i, oa, ob);
      out[i] = apply<R>(op, a[oa], b[ob]);
    }
  }
}

// ---- launchers ----

template <class Op, class T, class R>
static void launch_binary_flat(Op op, const T* a, const T* b, R* out, int64_t n, Operands mode,
                               const Context& ctx) {
  constexpr int N = vec_width<T, R>();
  bool vec = (mode == Operands::scalar_a || is_aligned(a, N * sizeof(T))) &&
             (mode == Operands::scalar_b || is_aligned(b, N * sizeof(T))) &&
             is_aligned(out, N * sizeof(R));
  binary_flat_kernel<Op, T, R>
      <<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(op, a, b, out, n, mode, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class Op, class T, class R>
static void launch_binary_broadcast(Op op, const T* a, const T* b, R* out, int64_t n,
                                    const BroadcastIndex& ix, const Context& ctx) {
  binary_broadcast_kernel<Op, T, R>
      <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(op, a, b, out, n, ix);
  WHET_CUDA_LAUNCH_CHECK();
}

// ---- host side: broadcast geometry ----

// Right-aligns `s` against rank `r` and returns its element strides, 0 where it broadcasts.
static std::vector<int64_t> broadcast_strides(const Shape& s, size_t r) {
  std::vector<int64_t> st(r, 0);
  int64_t acc = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t d = s.size() - 1 - i, od = r - 1 - i;
    st[od] = s[d] == 1 ? 0 : acc;
    acc *= s[d];
  }
  return st;
}

static BroadcastIndex make_broadcast_index(const Shape& os, const Shape& as, const Shape& bs,
                                           const char* name) {
  size_t r = os.size();
  std::vector<int64_t> sa = broadcast_strides(as, r), sb = broadcast_strides(bs, r);
  // Walk from the innermost dim, merging a dim into the run below it when both operands
  // step through it contiguously (or both broadcast it).
  std::vector<int64_t> size, ta, tb;  // innermost first
  for (size_t k = r; k-- > 0;) {
    if (os[k] == 1) continue;
    if (!size.empty() && sa[k] == ta.back() * size.back() && sb[k] == tb.back() * size.back()) {
      size.back() *= os[k];
      continue;
    }
    size.push_back(os[k]);
    ta.push_back(sa[k]);
    tb.push_back(sb[k]);
  }
  WHET_CHECK(size.size() <= size_t(kMaxDims), name, ": broadcasting ", shape_str(as), " with ",
             shape_str(bs), " needs ", size.size(), " dims after merging; the CUDA kernel takes ",
             kMaxDims);
  BroadcastIndex ix{};
  ix.ndim = int(size.size());
  for (int d = 0; d < ix.ndim; ++d) {  // back to outermost first
    size_t k = size.size() - 1 - size_t(d);
    ix.size[d] = size[k];
    ix.stride_a[d] = ta[k];
    ix.stride_b[d] = tb[k];
  }
  return ix;
}

// ---- entry point ----

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const char* name = binary_op_name(op);
  WHET_CHECK(a.dtype() == b.dtype(), name, ": dtype mismatch (", dtype_name(a.dtype()), " and ",
             dtype_name(b.dtype()), ")");
  WHET_CHECK(a.dtype() != DType::boolean, name, ": bool tensors are not supported");
  WHET_CHECK(out.dtype() == (is_comparison(op) ? DType::boolean : a.dtype()), name,
             ": output dtype ", dtype_name(out.dtype()), " is wrong");
  int64_t n = out.numel();
  if (n == 0) return;
  int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);

  bool flat = true;
  Operands mode = Operands::same_shape;
  if (a.numel() == n && b.numel() == n)
    mode = Operands::same_shape;
  else if (a.numel() == n && b.numel() == 1)
    mode = Operands::scalar_b;
  else if (a.numel() == 1 && b.numel() == n)
    mode = Operands::scalar_a;
  else
    flat = false;
  BroadcastIndex ix{};
  if (!flat) ix = make_broadcast_index(out.shape(), a.shape(), b.shape(), name);

  dispatch<DTypeSet::numeric>(a.dtype(), name, [&](auto tag) {
    using T = device_t<typename decltype(tag)::type>;
    if constexpr (!std::is_same_v<T, bool>) {
      const T* pa = static_cast<const T*>(a.raw_data());
      const T* pb = static_cast<const T*>(b.raw_data());
      with_binary_op(op, [&](auto f) {
        using R = std::conditional_t<
            std::is_same_v<decltype(f(binary_compute_t<T>(), binary_compute_t<T>())), bool>, bool,
            T>;
        R* po = static_cast<R*>(out.raw_data());
        if (flat)
          launch_binary_flat(f, pa, pb, po, n, mode, ctx);
        else
          launch_binary_broadcast(f, pa, pb, po, n, ix, ctx);
      });
    }
  });
}

}  // namespace whet::cuda
