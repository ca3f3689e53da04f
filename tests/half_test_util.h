// Helpers of the half-precision suites (test_autocast.cpp, test_half_adapter.cpp): fresh
// values, bitwise comparison, and "a half result is the float32 result rounded once".
#pragma once
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include "core/ops.h"

namespace half_test {

using namespace whet;

inline const DType kHalves[] = {DType::bf16, DType::f16};

inline Tensor rnd(const Shape& s, uint64_t seed, double lo = -2, double hi = 2,
                  DType dt = DType::f32) {
  Generator g(seed);
  return uniform(s, lo, hi, DType::f32, Device::cpu(), g).to(dt);
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// `got` (a half kernel's output) holds the float32 kernel's output `f32` rounded once.
inline void check_rounded(const std::string& what, const Tensor& got, const Tensor& f32) {
  INFO(what << " " << std::string(dtype_name(got.dtype())));
  CHECK(same_bits(got, f32.to(got.dtype())));
}

inline Tensor empty_as(const Tensor& t, DType dt) { return Tensor::empty(t.shape(), dt); }
inline Tensor wide(const Tensor& t) { return t.to(DType::f32); }

}  // namespace half_test
