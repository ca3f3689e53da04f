// Elementwise kernels on CUDA against the CPU kernels: every unary op forward and backward,
// every binary op under same-shape, scalar and broadcast operands, and affine.
#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

constexpr UnaryOp kUnaryOps[] = {
    UnaryOp::neg,   UnaryOp::abs,       UnaryOp::exp,         UnaryOp::log,     UnaryOp::sqrt,
    UnaryOp::rsqrt, UnaryOp::sin,       UnaryOp::cos,         UnaryOp::square,  UnaryOp::reciprocal,
    UnaryOp::sign,  UnaryOp::relu,      UnaryOp::relu6,       UnaryOp::sigmoid, UnaryOp::tanh,
    UnaryOp::silu,  UnaryOp::hardswish, UnaryOp::hardsigmoid, UnaryOp::gelu};

constexpr BinaryOp kBinaryOps[] = {
    BinaryOp::add,     BinaryOp::sub,     BinaryOp::mul, BinaryOp::div, BinaryOp::pow,
    BinaryOp::maximum, BinaryOp::minimum, BinaryOp::eq,  BinaryOp::ne,  BinaryOp::lt,
    BinaryOp::le,      BinaryOp::gt,      BinaryOp::ge};

// Input range inside each op's domain, wide enough to cross its kinks (relu6 at 0 and 6,
// hardswish at +-3).
std::pair<double, double> unary_domain(UnaryOp op) {
  switch (op) {
    case UnaryOp::log:
    case UnaryOp::sqrt:
    case UnaryOp::rsqrt:
    case UnaryOp::reciprocal:
      return {0.2, 3};
    case UnaryOp::relu6:
      return {-2, 8};
    default:
      return {-5, 5};
  }
}

// Which saved tensor the op layer passes to unary_backward (core/ops_elementwise.cpp).
bool backward_reads_output(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp:
    case UnaryOp::sqrt:
    case UnaryOp::rsqrt:
    case UnaryOp::reciprocal:
    case UnaryOp::sigmoid:
    case UnaryOp::tanh:
      return true;
    default:
      return false;
  }
}

// The CPU elementwise kernels compute float32 and float64; half types are referenced by
// their float32 computation on the same (already rounded) inputs.
DType ref_dtype(DType dt) { return dt == DType::f64 ? DType::f64 : DType::f32; }

std::string label(const char* op, DType dt, const std::string& shape) {
  return std::string(op) + " " + dtype_name(dt) + " " + shape;
}

}  // namespace

TEST_CASE("cuda: unary ops match the CPU") {
  uint64_t seed = 1;
  for (UnaryOp op : kUnaryOps) {
    auto [lo, hi] = unary_domain(op);
    for (DType dt : kFloatDTypes) {
      DType rd = ref_dtype(dt);
      for (int64_t n : sizes()) {
        Tensor x = uniform_cpu({n}, dt, lo, hi, seed++);
        Tensor expected = Tensor::empty({n}, rd);
        cpu().unary(op, cast_cpu(x, rd), expected);
        std::string what = label(unary_op_name(op), dt, "n=" + std::to_string(n));

        Tensor y = poisoned({n}, dt);
        gpu().unary(op, to_gpu(x), y);
        WHET_CHECK_CLOSE(what, y, expected, tolerance(dt));

        Tensor ym = poisoned({n + 1}, dt).slice(1, n + 1);  // scalar (unaligned) path
        gpu().unary(op, misaligned_gpu(x), ym);
        WHET_CHECK_CLOSE(what + " misaligned", ym, expected, tolerance(dt));
      }
    }
  }
}

TEST_CASE("cuda: unary backward matches the CPU") {
  uint64_t seed = 1000;
  for (UnaryOp op : kUnaryOps) {
    auto [lo, hi] = unary_domain(op);
    bool use_y = backward_reads_output(op);
    for (DType dt : kFloatDTypes) {
      DType rd = ref_dtype(dt);
      for (int64_t n : sizes()) {
        Tensor x = uniform_cpu({n}, dt, lo, hi, seed++);
        Tensor gy = uniform_cpu({n}, dt, -1, 1, seed++);
        Tensor y_ref = Tensor::empty({n}, rd);
        cpu().unary(op, cast_cpu(x, rd), y_ref);
        Tensor y = cast_cpu(y_ref, dt);  // the saved output, in the tensor's own dtype

        // Only the tensor the op layer saves is passed; the other is undefined.
        Tensor xr = use_y ? Tensor() : cast_cpu(x, rd), yr = use_y ? cast_cpu(y, rd) : Tensor();
        Tensor expected = Tensor::empty({n}, rd);
        cpu().unary_backward(op, xr, yr, cast_cpu(gy, rd), expected);

        Tensor xd = use_y ? Tensor() : to_gpu(x), yd = use_y ? to_gpu(y) : Tensor();
        Tensor gx = poisoned({n}, dt);
        gpu().unary_backward(op, xd, yd, to_gpu(gy), gx);
        std::string what = label(unary_op_name(op), dt, "backward n=" + std::to_string(n));
        WHET_CHECK_CLOSE(what, gx, expected, tolerance(dt));

        Tensor gxm = poisoned({n + 1}, dt).slice(1, n + 1);
        gpu().unary_backward(op, use_y ? Tensor() : misaligned_gpu(x),
                             use_y ? misaligned_gpu(y) : Tensor(), misaligned_gpu(gy), gxm);
        WHET_CHECK_CLOSE(what + " misaligned", gxm, expected, tolerance(dt));
      }
    }
  }
}

namespace {

// Operand values per op and dtype: inside the domain (no division by zero, positive bases for
// pow), small integers for comparisons so that ties occur.
std::pair<Tensor, Tensor> binary_inputs(BinaryOp op, DType dt, const Shape& sa, const Shape& sb,
                                        uint64_t seed) {
  bool integral = !is_floating(dt);
  bool unsigned8 = dt == DType::u8;
  if (is_comparison(op) || op == BinaryOp::maximum || op == BinaryOp::minimum) {
    int64_t lo = unsigned8 ? 0 : -3;
    if (is_comparison(op) || integral)
      return {randint_cpu(sa, dt, lo, 3, seed), randint_cpu(sb, dt, lo, 3, seed + 1)};
  }
  if (integral) {
    switch (op) {
      case BinaryOp::div:
        return {randint_cpu(sa, dt, unsigned8 ? 0 : -50, 50, seed),
                randint_cpu(sb, dt, 1, 10, seed + 1)};
      case BinaryOp::pow:
        return {randint_cpu(sa, dt, 0, 5, seed), randint_cpu(sb, dt, 0, 4, seed + 1)};
      default:
        return {randint_cpu(sa, dt, unsigned8 ? 0 : -20, 20, seed),
                randint_cpu(sb, dt, unsigned8 ? 0 : -20, 20, seed + 1)};
    }
  }
  switch (op) {
    case BinaryOp::div:
      return {uniform_cpu(sa, dt, -2, 2, seed), uniform_cpu(sb, dt, 0.5, 2, seed + 1)};
    case BinaryOp::pow:
      return {uniform_cpu(sa, dt, 0.5, 2, seed), uniform_cpu(sb, dt, -1.5, 2, seed + 1)};
    default:
      return {uniform_cpu(sa, dt, -2, 2, seed), uniform_cpu(sb, dt, -2, 2, seed + 1)};
  }
}

void check_binary(BinaryOp op, DType dt, const Shape& sa, const Shape& sb, uint64_t seed) {
  auto [a, b] = binary_inputs(op, dt, sa, sb, seed);
  Shape so = broadcast_shapes(sa, sb, "test");
  DType out_dt = is_comparison(op) ? DType::boolean : dt;
  Tensor expected = Tensor::empty(so, out_dt);
  cpu().binary(op, a, b, expected);
  Tensor out = poisoned(so, out_dt);
  gpu().binary(op, to_gpu(a), to_gpu(b), out);
  // Both sides compute in the same type (float for halves, int64 for integers); float32
  // transcendental pow is done in double on both.
  Tol tol = is_comparison(op) ? Tol{0, 0} : tolerance(dt);
  std::string what = label(binary_op_name(op), dt, shape_str(sa) + " with " + shape_str(sb));
  WHET_CHECK_CLOSE(what, out, expected, tol);
  if (a.numel() == numel(so) && b.numel() == numel(so) && a.dim() == 1) {
    Tensor outm = poisoned({numel(so) + 1}, out_dt).slice(1, numel(so) + 1);
    gpu().binary(op, misaligned_gpu(a), misaligned_gpu(b), outm);
    WHET_CHECK_CLOSE(what + " misaligned", outm, expected, tol);
  }
}

}  // namespace

TEST_CASE("cuda: binary ops match the CPU (same shape and scalar operands)") {
  const DType dtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                          DType::i32, DType::i64, DType::u8};
  uint64_t seed = 5000;
  for (BinaryOp op : kBinaryOps) {
    for (DType dt : dtypes) {
      for (int64_t n : sizes()) {
        check_binary(op, dt, {n}, {n}, seed += 2);
        check_binary(op, dt, {n}, {}, seed += 2);
        check_binary(op, dt, {}, {n}, seed += 2);
        check_binary(op, dt, {n}, {1}, seed += 2);
      }
    }
  }
}

TEST_CASE("cuda: binary ops match the CPU under broadcasting") {
  const std::pair<Shape, Shape> shapes[] = {
      {{2, 3, 4}, {4}},
      {{2, 1, 3}, {1, 4, 1}},
      {{5, 1}, {1, 6}},
      {{64, 33}, {33}},
      {{33}, {64, 33}},
      {{1023, 3}, {1023, 1}},
      {{7, 1, 1}, {7, 5, 9}},
      {{3, 1, 7, 1}, {1, 5, 1, 9}},
      {{2, 1, 2, 1, 2, 1, 2, 1, 2, 3}, {3}},                          // rank 10 merges to 2
      {{2, 3, 2, 3, 2, 3, 2, 3, 2, 3}, {3, 1, 3, 1, 3, 1, 3, 1, 3}},  // 10 dims, none merge
      {{257, 4099}, {4099}},                                          // about a million elements
      {{257, 1, 4099}, {257, 3, 1}},
  };
  const DType dtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                          DType::i32, DType::i64, DType::u8};
  uint64_t seed = 90000;
  for (BinaryOp op : kBinaryOps)
    for (DType dt : dtypes)
      for (const auto& [sa, sb] : shapes) check_binary(op, dt, sa, sb, seed += 2);
}

TEST_CASE("cuda: affine matches the CPU") {
  uint64_t seed = 70000;
  for (DType dt : kFloatDTypes) {
    DType rd = ref_dtype(dt);
    for (int64_t n : sizes()) {
      for (auto [scale, shift] :
           {std::pair{0.5, 1.25}, std::pair{-3.0, 0.0}, std::pair{1e-3, -7.0}}) {
        Tensor x = uniform_cpu({n}, dt, -10, 10, seed++);
        Tensor expected = Tensor::empty({n}, rd);
        cpu().affine(cast_cpu(x, rd), scale, shift, expected);
        Tensor out = poisoned({n}, dt);
        gpu().affine(to_gpu(x), scale, shift, out);
        // float32 and float64: rounded after each step as the CPU does, so exact.
        Tol tol = is_half(dt) ? tolerance(dt) : Tol{0, 0};
        std::string what = label("affine", dt, "n=" + std::to_string(n));
        WHET_CHECK_CLOSE(what, out, expected, tol);
        Tensor outm = poisoned({n + 1}, dt).slice(1, n + 1);
        gpu().affine(misaligned_gpu(x), scale, shift, outm);
        WHET_CHECK_CLOSE(what + " misaligned", outm, expected, tol);
      }
    }
  }
}
