// Misuse reachable from the public API throws whet::Error naming the op and the shapes.
#include <doctest/doctest.h>

#include "core/ops.h"

using namespace whet;

#define CHECK_ERROR_MENTIONS(expr, text) \
  CHECK_THROWS_WITH_AS(expr, doctest::Contains(text), Error)

TEST_CASE("errors: shape mismatches name the op and both shapes") {
  CHECK_ERROR_MENTIONS(add(ones({2, 3}), ones({4})), "add: shapes (2, 3) and (4,)");
  CHECK_ERROR_MENTIONS(matmul(ones({2, 3}), ones({2, 3})), "matmul: shapes (2, 3) and (2, 3)");
  CHECK_ERROR_MENTIONS(linear(ones({2, 3}), ones({4, 5})), "linear: input (2, 3)");
  CHECK_ERROR_MENTIONS(ones({6}).reshape({4, -1}), "reshape: cannot reshape (6,)");
  CHECK_ERROR_MENTIONS(concat({ones({2, 3}), ones({2, 4})}, 0), "concat: shapes (2, 3) and (2, 4)");
  CHECK_ERROR_MENTIONS(stack({ones({2}), ones({3})}), "stack: shapes");
  CHECK_ERROR_MENTIONS(permute(ones({2, 3}), {0, 0}), "permute: dim 0 repeated");
  CHECK_ERROR_MENTIONS(narrow(ones({2, 3}), 1, 2, 2), "narrow: [2, 4) out of range");
  CHECK_ERROR_MENTIONS(sum(ones({2, 3}), {2}), "sum: dim 2 out of range");
  CHECK_ERROR_MENTIONS(ones({2}).slice(1, 3), "slice: rows [1, 3)");
  CHECK_ERROR_MENTIONS(ones({2})[5], "index 5 out of range");
  CHECK_ERROR_MENTIONS(ones({2}).item(), "item(): tensor of shape (2,)");
  CHECK_ERROR_MENTIONS(Tensor::empty({int64_t(1) << 40, int64_t(1) << 40}), "more elements than fit");
  CHECK_ERROR_MENTIONS(Tensor::empty({int64_t(1) << 62}, DType::f64), "more bytes than fit");
  CHECK_THROWS_AS(Tensor::empty({int64_t(1) << 50}), Error);  // 4 PiB: the allocator refuses
  CHECK_ERROR_MENTIONS(zeros({0}).reshape({int64_t(1) << 32, int64_t(1) << 32, 0, 1 << 2}),
                       "reshape: shape");
}

TEST_CASE("errors: dtype mismatches and unsupported dtypes") {
  // Floating dtypes promote (tests/test_autocast.cpp); other mixes are refused.
  CHECK_ERROR_MENTIONS(add(ones({2}), ones({2}, DType::i64)),
                       "add: dtype mismatch (float32 and int64)");
  CHECK_ERROR_MENTIONS(relu(ones({2}, DType::i64)), "relu: input must be a floating tensor");
  CHECK_ERROR_MENTIONS(ones({2}).data<double>(), "tensor is float32, asked for float64");
  CHECK_ERROR_MENTIONS(rand({2}, DType::i32), "rand: dtype must be floating");
  CHECK_ERROR_MENTIONS(randint(5, 5, {2}), "randint: empty range");
  CHECK_ERROR_MENTIONS(dtype_from_name("float128"), "unknown dtype 'float128'");
}

TEST_CASE("errors: devices") {
  CHECK_ERROR_MENTIONS(Device::parse("tpu"), "invalid device 'tpu'");
  CHECK_ERROR_MENTIONS(Device::parse("cuda:x"), "invalid device 'cuda:x'");
  if (cuda_device_count() == 0) {
    CHECK_THROWS_AS(zeros({2}, DType::f32, Device::cuda(0)), Error);
  }
  CHECK_THROWS_AS(zeros({2}, DType::f32, Device::cuda(999)), Error);
}

TEST_CASE("errors: autograd misuse") {
  CHECK_ERROR_MENTIONS(ones({2}).backward(), "does not require grad");
  Tensor x = ones({2}).set_requires_grad();
  CHECK_ERROR_MENTIONS((x * 2.0).backward(), "implicitly created only for a scalar");
  CHECK_ERROR_MENTIONS(sum(x).backward(ones({3})), "gradient shape (3,) does not match");
  CHECK_ERROR_MENTIONS(Tensor().shape(), "undefined tensor");
  CHECK_ERROR_MENTIONS(add(Tensor(), ones({1})), "add: first operand is an undefined tensor");
}
