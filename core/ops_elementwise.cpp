// Elementwise ops and their gradients.
#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

// ---- unary ----

namespace {
// Which saved tensor the derivative reads: the input, the output, or neither.
bool backward_needs_output(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp: case UnaryOp::sqrt: case UnaryOp::rsqrt: case UnaryOp::reciprocal:
    case UnaryOp::sigmoid: case UnaryOp::tanh:
      return true;
    default:
      return false;
  }
}
}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_defined(name, x, "input");
  check_floating(name, x, "input");
  Tensor y = empty_like(x);
  kernel(x.device(), &Backend::unary, name)(op, x, y);
  if (any_requires_grad({x})) {
    bool use_y = backward_needs_output(op);
    // d/dx is read from y where cheaper (exp' = y), else from x; only that one is saved.
    Tensor saved = use_y ? y.detach() : x.detach();
    record(name, {x}, y, [op, use_y, saved](const Tensor& gy, const NeedsGrad&) {
      Tensor gx = empty_like(gy);
      kernel(gy.device(), &Backend::unary_backward, unary_op_name(op))(
          op, use_y ? Tensor() : saved, use_y ? saved : Tensor(), gy, gx);
      return std::vector<Tensor>{gx};
    });
  }
  return y;
}

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::rsqrt, x); }
Tensor sin(const Tensor& x) { return unary(UnaryOp::sin, x); }
Tensor cos(const Tensor& x) { return unary(UnaryOp::cos, x); }
Tensor square(const Tensor& x) { return unary(UnaryOp::square, x); }
Tensor reciprocal(const Tensor& x) { return unary(UnaryOp::reciprocal, x); }
Tensor sign(const Tensor& x) { return unary(UnaryOp::sign, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
Tensor relu6(const Tensor& x) { return unary(UnaryOp::relu6, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }
Tensor silu(const Tensor& x) { return unary(UnaryOp::silu, x); }
Tensor hardswish(const Tensor& x) { return unary(UnaryOp::hardswish, x); }
Tensor hardsigmoid(const Tensor& x) { return unary(UnaryOp::hardsigmoid, x); }
Tensor gelu(const Tensor& x) { return unary(UnaryOp::gelu, x); }

// ---- binary ----

namespace {
Tensor raw_binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(s, is_comparison(op) ? DType::boolean : a.dtype(), a.device());
  kernel(a.device(), &Backend::binary, name)(op, a, b, out);
  return out;
}

// Where a == b the gradient of maximum/minimum is split evenly, as PyTorch does.
Tensor select_grad(const Tensor& g, const Tensor& wins, const Tensor& ties) {
  return g * (cast(wins, g.dtype()) + cast(ties, g.dtype()) * 0.5);
}
}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  const DType da = a.dtype(), db = b.dtype();
  if (da == db) return da;
  WHET_CHECK(is_floating(da) && is_floating(db), "result_type: dtype mismatch (", dtype_name(da),
             " and ", dtype_name(db), "); only floating dtypes promote");
  // A 0-D operand (a scalar) takes the other operand's dtype, as PyTorch's dimensioned tensors
  // win over scalars of the same category: half_x * scalar stays half.
  if ((a.dim() == 0) != (b.dim() == 0)) return a.dim() == 0 ? db : da;
  if (da == DType::f64 || db == DType::f64) return DType::f64;
  return DType::f32;  // float32 with a half type, or float16 with bfloat16
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  check_same_device(name, {a, b});
  if (a.dtype() != b.dtype()) {
    // Mixed floating dtypes run in the promoted one; the casts route each operand's gradient
    // back in its own dtype.
    WHET_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), name, ": dtype mismatch (",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()), ")");
    const DType dt = result_type(a, b);
    return binary(op, a.dtype() == dt ? a : cast(a, dt), b.dtype() == dt ? b : cast(b, dt));
  }
  Tensor y = raw_binary(op, a, b);
  if (is_comparison(op) || !any_requires_grad({a, b})) return y;
  Shape sa = a.shape(), sb = b.shape();
  Tensor ad = a.detach(), bd = b.detach();
  // Each gradient is computed at the broadcast shape, then summed back to its operand's.
  auto grads = [sa, sb](const NeedsGrad& need, auto ga, auto gb) {
    return std::vector<Tensor>{need[0] ? sum_to(ga(), sa) : Tensor(),
                               need[1] ? sum_to(gb(), sb) : Tensor()};
  };
  switch (op) {
    case BinaryOp::add:
      record(name, {a, b}, y, [grads](const Tensor& g, const NeedsGrad& n) {
        return grads(n, [&] { return g; }, [&] { return g; });
      });
      break;
    case BinaryOp::sub:
      record(name, {a, b}, y, [grads](const Tensor& g, const NeedsGrad& n) {
        return grads(n, [&] { return g; }, [&] { return -g; });
      });
      break;
    case BinaryOp::mul:  // d(ab) = b da + a db
      record(name, {a, b}, y, [grads, ad, bd](const Tensor& g, const NeedsGrad& n) {
        return grads(n, [&] { return g * bd; }, [&] { return g * ad; });
      });
      break;
    case BinaryOp::div:  // d(a/b) = da / b - a db / b^2
      record(name, {a, b}, y, [grads, ad, bd](const Tensor& g, const NeedsGrad& n) {
        return grads(n, [&] { return g / bd; }, [&] { return -(g * ad) / (bd * bd); });
      });
      break;
    case BinaryOp::pow: {  // d(a^b) = b a^(b-1) da + a^b ln(a) db
      Tensor yd = y.detach();
      record(name, {a, b}, y, [grads, ad, bd, yd](const Tensor& g, const NeedsGrad& n) {
        return grads(n, [&] { return g * bd * pow(ad, bd - 1.0); },
                     [&] { return g * yd * log(ad); });
      });
      break;
    }
    case BinaryOp::maximum:
    case BinaryOp::minimum: {
      bool is_max = op == BinaryOp::maximum;
      record(name, {a, b}, y, [grads, ad, bd, is_max](const Tensor& g, const NeedsGrad& n) {
        Tensor a_wins = is_max ? raw_binary(BinaryOp::gt, ad, bd) : raw_binary(BinaryOp::lt, ad, bd);
        Tensor b_wins = is_max ? raw_binary(BinaryOp::lt, ad, bd) : raw_binary(BinaryOp::gt, ad, bd);
        Tensor ties = raw_binary(BinaryOp::eq, ad, bd);
        return grads(n, [&] { return select_grad(g, a_wins, ties); },
                     [&] { return select_grad(g, b_wins, ties); });
      });
      break;
    }
    default:
      break;
  }
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(BinaryOp::pow, a, b); }
Tensor pow(const Tensor& a, double e) { return binary(BinaryOp::pow, a, scalar_like(e, a)); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::minimum, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(BinaryOp::ge, a, b); }

Tensor scalar_like(double v, const Tensor& like) {
  check_defined("scalar", like, "reference tensor");
  return full({}, v, like.dtype(), like.device());
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace whet
