// PyTorch's in-place update primitives (add with alpha, addcmul, addcdiv, lerp) as out-of-place
// whet ops, evaluated in the order PyTorch's CPU kernels use so float64 trajectories agree to
// the last bits (PyTorch's vectorised loops may fuse a multiply-add, which rounds once; ours
// round twice, a difference of at most an ulp per operation). Scalars are rounded to the
// tensor's dtype first, as PyTorch casts a Python float to the kernel's compute type.
#pragma once
#include "core/ops.h"

namespace whet::optim {

// self + alpha * other
Tensor add_scaled(const Tensor& self, const Tensor& other, double alpha);
// self + (value * t1) * t2
Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2, double value);
// self + (value * t1) / t2
Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2, double value);
// torch.lerp: self + w (end - self) when |w| < 0.5, else end - (end - self)(1 - w).
Tensor lerp(const Tensor& self, const Tensor& end, double weight);

}  // namespace whet::optim
