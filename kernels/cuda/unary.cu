#include "kernels/cuda/unary.cuh"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/math.cuh"

namespace whet::cuda {

// ---- the ops: forward f(x), and backward from the one saved value s (x or y) and g ----
// Formulas are those of kernels/cpu/elementwise.cpp, term for term.

enum class Saved { none, x, y };

template <class C>
__device__ __forceinline__ C sigmoid_of(C v) {
  return C(1) / (C(1) + dm::exp(-v));
}
template <class C>
__device__ __forceinline__ C gelu_cdf(C v) {  // Phi(v) = (1 + erf(v / sqrt 2)) / 2
  return C(0.5) * (C(1) + dm::erf(v * C(0.70710678118654752440)));
}
constexpr double kInvSqrt2Pi = 0.3989422804014327;

// An op: which value its derivative reads (s), y = forward(v), and gx = backward(s, g).
#define WHET_UNARY_OP(Name, saved, forward_expr, backward_expr)              \
  struct Name {                                                              \
    static constexpr Saved kSaved = saved;                                   \
    template <class C>                                                       \
    __device__ __forceinline__ C forward(C v) const {                        \
      return forward_expr;                                                   \
    }                                                                        \
    template <class C>                                                       \
    __device__ __forceinline__ C backward([[maybe_unused]] C s, C g) const { \
      return backward_expr;                                                  \
    }                                                                        \
  };

// clang-format off
WHET_UNARY_OP(Neg,         Saved::none, -v,                    -g)
WHET_UNARY_OP(Abs,         Saved::x,    dm::abs(v),            g * C((s > 0) - (s < 0)))
WHET_UNARY_OP(Exp,         Saved::y,    dm::exp(v),            g * s)
WHET_UNARY_OP(Log,         Saved::x,    dm::log(v),            g / s)
WHET_UNARY_OP(Sqrt,        Saved::y,    dm::sqrt(v),           g / (2 * s))
WHET_UNARY_OP(Rsqrt,       Saved::y,    C(1) / dm::sqrt(v),    C(-0.5) * g * s * s * s)
WHET_UNARY_OP(Sin,         Saved::x,    dm::sin(v),            g * dm::cos(s))
WHET_UNARY_OP(Cos,         Saved::x,    dm::cos(v),            -g * dm::sin(s))
WHET_UNARY_OP(Square,      Saved::x,    v * v,                 2 * s * g)
WHET_UNARY_OP(Reciprocal,  Saved::y,    C(1) / v,              -g * s * s)
WHET_UNARY_OP(Sign,        Saved::none, C((v > 0) - (v < 0)),  C(0))
WHET_UNARY_OP(Relu,        Saved::x,    v > 0 ? v : C(0),      s > 0 ? g : C(0))
WHET_UNARY_OP(Relu6,       Saved::x,    dm::min(dm::max(v, C(0)), C(6)),
                                        s > 0 && s < 6 ? g : C(0))
WHET_UNARY_OP(Sigmoid,     Saved::y,    sigmoid_of(v),         g * s * (1 - s))
WHET_UNARY_OP(Tanh,        Saved::y,    dm::tanh(v),           g * (1 - s * s))
WHET_UNARY_OP(Silu,        Saved::x,    v * sigmoid_of(v),
                                        g * sigmoid_of(s) * (1 + s * (1 - sigmoid_of(s))))
WHET_UNARY_OP(Hardswish,   Saved::x,    v * dm::min(dm::max(v + 3, C(0)), C(6)) / 6,
                                        s < -3 ? C(0) : s <= 3 ? g * (s / 3 + C(0.5)) : g)
WHET_UNARY_OP(Hardsigmoid, Saved::x,    dm::min(dm::max(v + 3, C(0)), C(6)) / 6,
                                        s > -3 && s < 3 ? g / 6 : C(0))
WHET_UNARY_OP(Gelu,        Saved::x,    v * gelu_cdf(v),
                                        g * (gelu_cdf(s) + s * C(kInvSqrt2Pi) *
                                                               dm::exp(C(-0.5) * s * s)))
// clang-format on
#undef WHET_UNARY_OP

// Calls f(Op{}) for the functor of `op`.
template <class F>
static void with_unary_op(UnaryOp op, F&& f) {
  // clang-format off
  switch (op) {
    case UnaryOp::neg: return f(Neg{});
    case UnaryOp::abs: return f(Abs{});
    case UnaryOp::exp: return f(Exp{});
    case UnaryOp::log: return f(Log{});
    case UnaryOp::sqrt: return f(Sqrt{});
    case UnaryOp::rsqrt: return f(Rsqrt{});
    case UnaryOp::sin: return f(Sin{});
    case UnaryOp::cos: return f(Cos{});
    case UnaryOp::square: return f(Square{});
    case UnaryOp::reciprocal: return f(Reciprocal{});
    case UnaryOp::sign: return f(Sign{});
    case UnaryOp::relu: return f(Relu{});
    case UnaryOp::relu6: return f(Relu6{});
    case UnaryOp::sigmoid: return f(Sigmoid{});
    case UnaryOp::tanh: return f(Tanh{});
    case UnaryOp::silu: return f(Silu{});
    case UnaryOp::hardswish: return f(Hardswish{});
    case UnaryOp::hardsigmoid: return f(Hardsigmoid{});
    case UnaryOp::gelu: return f(Gelu{});
  }
  // clang-format on
  WHET_FAIL("unary: unknown op ", int(op));
}

// ---- kernels ----

// x (n) -> y (n)
template <class Op, class T>
static __global__ void unary_kernel(Op op, const T* __restrict__ x, T* __restrict__ y, int64_t n,
                                    bool vec) {
  using C = compute_t<T>;
  constexpr int N = vec_width<T>();
  grid_stride<N>(
      n, vec,
      [&](int64_t i) {
        Vec<T, N> a = load_vec<N>(x, i);
#pragma unroll
        for (int j = 0; j < N; ++j) a.v[j] = cast_to<T>(op.forward(cast_to<C>(a.v[j])));
        store_vec<N>(y, i, a);
      },
      [&](int64_t i) { y[i] = cast_to<T>(op.forward(cast_to<C>(x[i]))); });
}

// s (n) the saved x or y (null when the op needs neither), gy (n) -> gx (n)
template <class Op, class T>
static __global__ void unary_backward_kernel(Op op, const T* __restrict__ s,
                                             const T* __restrict__ gy, T* __restrict__ gx,
                                             int64_t n, bool vec) {
  using C = compute_t<T>;
  constexpr int N = vec_width<T>();
  constexpr bool kReads = Op::kSaved != Saved::none;
  grid_stride<N>(
      n, vec,
      [&](int64_t i) {
        Vec<T, N> g = load_vec<N>(gy, i);
        Vec<T, N> v;
        if constexpr (kReads) v = load_vec<N>(s, i);
#pragma unroll
        for (int j = 0; j < N; ++j) {
          C sv = kReads ? cast_to<C>(v.v[j]) : C(0);
          g.v[j] = cast_to<T>(op.backward(sv, cast_to<C>(g.v[j])));
        }
        store_vec<N>(gx, i, g);
      },
      [&](int64_t i) {
        C sv = kReads ? cast_to<C>(s[i]) : C(0);
        gx[i] = cast_to<T>(op.backward(sv, cast_to<C>(gy[i])));
      });
}

// x (n) -> out (n) = x * scale + shift, rounded after each step as the CPU does.
template <class T>
static __global__ void affine_kernel(const T* __restrict__ x, T* __restrict__ out,
                                     compute_t<T> scale, compute_t<T> shift, int64_t n, bool vec) {
  using C = compute_t<T>;
  constexpr int N = vec_width<T>();
  auto f = [&](T v) { return cast_to<T>(add_rn(mul_rn(cast_to<C>(v), scale), shift)); };
  grid_stride<N>(
      n, vec,
      [&](int64_t i) {
        Vec<T, N> a = load_vec<N>(x, i);
#pragma unroll
        for (int j = 0; j < N; ++j) a.v[j] = f(a.v[j]);
        store_vec<N>(out, i, a);
      },
      [&](int64_t i) { out[i] = f(x[i]); });
}

// ---- launchers ----

template <class Op, class T>
static void launch_unary(Op op, const T* x, T* y, int64_t n, const Context& ctx) {
  constexpr int N = vec_width<T>();
  bool vec = is_aligned(x, 16) && is_aligned(y, 16);
  unary_kernel<Op, T>
      <<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(op, x, y, n, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class Op, class T>
static void launch_unary_backward(Op op, const T* s, const T* gy, T* gx, int64_t n,
                                  const Context& ctx) {
  constexpr int N = vec_width<T>();
  bool vec = (!s || is_aligned(s, 16)) && is_aligned(gy, 16) && is_aligned(gx, 16);
  unary_backward_kernel<Op, T>
      <<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(op, s, gy, gx, n, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T>
static void launch_affine(const T* x, T* out, compute_t<T> scale, compute_t<T> shift, int64_t n,
                          const Context& ctx) {
  constexpr int N = vec_width<T>();
  bool vec = is_aligned(x, 16) && is_aligned(out, 16);
  affine_kernel<T>
      <<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(x, out, scale, shift, n, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

// ---- entry points ----

void unary(UnaryOp op, const Tensor& x, Tensor& y) {
  int64_t n = x.numel();
  WHET_CHECK(y.numel() == n && y.dtype() == x.dtype(), unary_op_name(op),
             ": output does not match the input");
  if (n == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(x.dtype(), unary_op_name(op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_unary_op(op, [&](auto f) {
      launch_unary(f, static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), n, ctx);
    });
  });
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx) {
  const char* name = unary_op_name(op);
  int64_t n = gy.numel();
  if (n == 0) return;
  int dev = gy.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(gy.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    with_unary_op(op, [&](auto f) {
      constexpr Saved saved = decltype(f)::kSaved;
      const Tensor* s = saved == Saved::x ? &x : saved == Saved::y ? &y : nullptr;
      if (s) {
        WHET_CHECK(s->defined(), name, " backward: needs the saved ",
                   saved == Saved::x ? "input" : "output");
        WHET_CHECK(s->numel() == n && s->dtype() == gy.dtype(), name,
                   " backward: saved tensor does not match the gradient");
      }
      launch_unary_backward(f, s ? static_cast<const T*>(s->raw_data()) : nullptr,
                            static_cast<const T*>(gy.raw_data()), static_cast<T*>(gx.raw_data()), n,
                            ctx);
    });
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  int64_t n = x.numel();
  if (n == 0) return;
  int dev = x.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch_floating(x.dtype(), "affine", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    launch_affine(static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), C(scale),
                  C(shift), n, ctx);
  });
}

}  // namespace whet::cuda
