#include "optim/update_math.h"

#include <cmath>

namespace whet::optim {

namespace {
// A double rounded to what `dt` holds, as a scalar argument reaches PyTorch's kernel.
double round_to(DType dt, double v) { return dt == DType::f32 ? double(float(v)) : v; }
}  // namespace

Tensor add_scaled(const Tensor& self, const Tensor& other, double alpha) {
  if (alpha == 1.0) return self + other;  // 1 * x is exact: skip the multiply
  return self + other * alpha;
}

Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2, double value) {
  if (value == 1.0) return self + t1 * t2;
  return self + (t1 * value) * t2;
}

Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2, double value) {
  if (value == 1.0) return self + t1 / t2;
  return self + (t1 * value) / t2;
}

Tensor lerp(const Tensor& self, const Tensor& end, double weight) {
  double w = round_to(self.dtype(), weight);
  if (std::abs(w) < 0.5) return self + (end - self) * w;
  // PyTorch computes 1 - w in the compute type; the difference of two floats is exact in a
  // double, so rounding it once gives the same value.
  return end - (end - self) * round_to(self.dtype(), 1.0 - w);
}

}  // namespace whet::optim
