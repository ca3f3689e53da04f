// Elementwise unary and binary kernels, with NumPy broadcasting for binary ops.
#include <cmath>
#include <type_traits>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {
constexpr int64_t kGrain = 1 << 14;

template <class T, class F>
void map1(const Tensor& x, Tensor& y, F f) {
  const T* px = x.data<T>();
  T* py = y.data<T>();
  parallel_for(x.numel(), kGrain, [&](int64_t i) { py[i] = f(px[i]); });
}

// gx[i] = f(x[i], y[i], gy[i])
template <class T, class F>
void map3(const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx, F f) {
  const T* px = x.defined() ? x.data<T>() : nullptr;
  const T* py = y.defined() ? y.data<T>() : nullptr;
  const T* pg = gy.data<T>();
  T* po = gx.data<T>();
  parallel_for(gy.numel(), kGrain, [&](int64_t i) {
    po[i] = f(px ? px[i] : T(0), py ? py[i] : T(0), pg[i]);
  });
}

template <class T>
T sigmoid_of(T v) { return T(1) / (T(1) + std::exp(-v)); }

template <class T>
void unary_typed(UnaryOp op, const Tensor& x, Tensor& y) {
  switch (op) {
    case UnaryOp::neg: return map1<T>(x, y, [](T v) { return -v; });
    case UnaryOp::abs: return map1<T>(x, y, [](T v) { return std::abs(v); });
    case UnaryOp::exp: return map1<T>(x, y, [](T v) { return std::exp(v); });
    case UnaryOp::log: return map1<T>(x, y, [](T v) { return std::log(v); });
    case UnaryOp::sqrt: return map1<T>(x, y, [](T v) { return std::sqrt(v); });
    case UnaryOp::rsqrt: return map1<T>(x, y, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::sin: return map1<T>(x, y, [](T v) { return std::sin(v); });
    case UnaryOp::cos: return map1<T>(x, y, [](T v) { return std::cos(v); });
    case UnaryOp::square: return map1<T>(x, y, [](T v) { return v * v; });
    case UnaryOp::reciprocal: return map1<T>(x, y, [](T v) { return T(1) / v; });
    case UnaryOp::sign: return map1<T>(x, y, [](T v) { return T((v > 0) - (v < 0)); });
    case UnaryOp::relu: return map1<T>(x, y, [](T v) { return v > 0 ? v : T(0); });
    case UnaryOp::relu6:
      return map1<T>(x, y, [](T v) { return std::min(std::max(v, T(0)), T(6)); });
    case UnaryOp::sigmoid: return map1<T>(x, y, [](T v) { return sigmoid_of(v); });
    case UnaryOp::tanh: return map1<T>(x, y, [](T v) { return std::tanh(v); });
    case UnaryOp::silu: return map1<T>(x, y, [](T v) { return v * sigmoid_of(v); });
    case UnaryOp::hardswish:
      return map1<T>(x, y, [](T v) { return v * std::min(std::max(v + 3, T(0)), T(6)) / 6; });
    case UnaryOp::hardsigmoid:
      return map1<T>(x, y, [](T v) { return std::min(std::max(v + 3, T(0)), T(6)) / 6; });
    case UnaryOp::gelu:
      return map1<T>(x, y, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2))); });
  }
}

// Derivatives follow PyTorch's tools/autograd/derivatives.yaml, boundary conventions included
// (relu'(0) = 0, hardswish' = x/3 + 1/2 on [-3, 3]).
template <class T>
void unary_backward_typed(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                          Tensor& gx) {
  auto run = [&](auto f) { map3<T>(x, y, gy, gx, f); };
  switch (op) {
    case UnaryOp::neg: return run([](T, T, T g) { return -g; });
    case UnaryOp::abs: return run([](T a, T, T g) { return g * T((a > 0) - (a < 0)); });
    case UnaryOp::exp: return run([](T, T b, T g) { return g * b; });
    case UnaryOp::log: return run([](T a, T, T g) { return g / a; });
    case UnaryOp::sqrt: return run([](T, T b, T g) { return g / (2 * b); });
    case UnaryOp::rsqrt: return run([](T, T b, T g) { return T(-0.5) * g * b * b * b; });
    case UnaryOp::sin: return run([](T a, T, T g) { return g * std::cos(a); });
    case UnaryOp::cos: return run([](T a, T, T g) { return -g * std::sin(a); });
    case UnaryOp::square: return run([](T a, T, T g) { return 2 * a * g; });
    case UnaryOp::reciprocal: return run([](T, T b, T g) { return -g * b * b; });
    case UnaryOp::sign: return run([](T, T, T) { return T(0); });
    case UnaryOp::relu: return run([](T a, T, T g) { return a > 0 ? g : T(0); });
    case UnaryOp::relu6: return run([](T a, T, T g) { return a > 0 && a < 6 ? g : T(0); });
    case UnaryOp::sigmoid: return run([](T, T b, T g) { return g * b * (1 - b); });
    case UnaryOp::tanh: return run([](T, T b, T g) { return g * (1 - b * b); });
    case UnaryOp::silu:
      return run([](T a, T, T g) {
        T s = sigmoid_of(a);
        return g * s * (1 + a * (1 - s));
      });
    case UnaryOp::hardswish:
      return run([](T a, T, T g) { return a < -3 ? T(0) : a <= 3 ? g * (a / 3 + T(0.5)) : g; });
    case UnaryOp::hardsigmoid:
      return run([](T a, T, T g) { return a > -3 && a < 3 ? g / 6 : T(0); });
    case UnaryOp::gelu:
      return run([](T a, T, T g) {
        const T kInvSqrt2Pi = T(0.3989422804014327);
        T cdf = T(0.5) * (1 + std::erf(a * T(M_SQRT1_2)));
        return g * (cdf + a * kInvSqrt2Pi * std::exp(T(-0.5) * a * a));
      });
  }
}

// out[i] = f(a[ia], b[ib]) with a and b broadcast to out's shape. Rows of the last dim are
// the unit of work: their offsets are computed once, the inner loop only strides.
template <class T, class R, class F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.data<R>();
  int64_t n = out.numel();
  if (n == 0) return;
  if (a.numel() == n && b.numel() == n) {
    parallel_for(n, kGrain, [&](int64_t i) { po[i] = f(pa[i], pb[i]); });
    return;
  }
  if (a.numel() == n && b.numel() == 1) {
    T s = pb[0];
    parallel_for(n, kGrain, [&](int64_t i) { po[i] = f(pa[i], s); });
    return;
  }
  if (a.numel() == 1 && b.numel() == n) {
    T s = pa[0];
    parallel_for(n, kGrain, [&](int64_t i) { po[i] = f(s, pb[i]); });
    return;
  }
  const Shape& os = out.shape();
  size_t r = os.size();
  auto strides_for = [&](const Shape& s) {
    std::vector<int64_t> st(r, 0);
    int64_t acc = 1;
    for (size_t i = 0; i < s.size(); ++i) {
      size_t d = s.size() - 1 - i, od = r - 1 - i;
      st[od] = s[d] == 1 ? 0 : acc;
      acc *= s[d];
    }
    return st;
  };
  std::vector<int64_t> sa = strides_for(a.shape()), sb = strides_for(b.shape());
  int64_t inner = os[r - 1], rows = n / inner;
  int64_t ia_step = sa[r - 1], ib_step = sb[r - 1];
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t row) {
    int64_t oa = 0, ob = 0, rem = row;
    for (size_t d = r - 1; d-- > 0;) {
      int64_t c = rem % os[d];
      rem /= os[d];
      oa += c * sa[d];
      ob += c * sb[d];
    }
    R* o = po + row * inner;
    for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[oa + j * ia_step], pb[ob + j * ib_step]);
  });
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  // Half types compute in float; integers in int64 except where the result is fractional.
  using C = std::conditional_t<std::is_same_v<T, double>, double,
                               std::conditional_t<std::is_integral_v<T>, int64_t, float>>;
  auto arith = [&](auto f) {
    broadcast_apply<T, T>(a, b, out, [f](T x, T y) { return cast_value<T>(f(C(x), C(y))); });
  };
  auto compare = [&](auto f) {
    broadcast_apply<T, bool>(a, b, out, [f](T x, T y) { return f(C(x), C(y)); });
  };
  switch (op) {
    case BinaryOp::add: return arith([](C x, C y) { return x + y; });
    case BinaryOp::sub: return arith([](C x, C y) { return x - y; });
    case BinaryOp::mul: return arith([](C x, C y) { return x * y; });
    case BinaryOp::div: return arith([](C x, C y) { return x / y; });
    case BinaryOp::pow:
      return arith([](C x, C y) { return C(std::pow(double(x), double(y))); });
    case BinaryOp::maximum: return arith([](C x, C y) { return x > y || x != x ? x : y; });
    case BinaryOp::minimum: return arith([](C x, C y) { return x < y || x != x ? x : y; });
    case BinaryOp::eq: return compare([](C x, C y) { return x == y; });
    case BinaryOp::ne: return compare([](C x, C y) { return x != y; });
    case BinaryOp::lt: return compare([](C x, C y) { return x < y; });
    case BinaryOp::le: return compare([](C x, C y) { return x <= y; });
    case BinaryOp::gt: return compare([](C x, C y) { return x > y; });
    case BinaryOp::ge: return compare([](C x, C y) { return x >= y; });
  }
}
}  // namespace

void unary(UnaryOp op, const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), unary_op_name(op), [&](auto tag) {
    unary_typed<typename decltype(tag)::type>(op, x, y);
  });
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_float(gy.dtype(), unary_op_name(op), [&](auto tag) {
    unary_backward_typed<typename decltype(tag)::type>(op, x, y, gy, gx);
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  WHET_CHECK(a.dtype() != DType::boolean, binary_op_name(op), ": bool tensors are not supported");
  dispatch<DTypeSet::numeric>(a.dtype(), binary_op_name(op), [&](auto tag) {
    binary_typed<typename decltype(tag)::type>(op, a, b, out);
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T s = T(scale), t = T(shift);
    map1<T>(x, out, [s, t](T v) { return v * s + t; });
  });
}

}  // namespace whet::cpu
