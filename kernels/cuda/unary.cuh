// Elementwise unary ops, their gradients, and affine (x * scale + shift).
// f32 and f64 compute in themselves; f16 and bf16 in float.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void unary(UnaryOp op, const Tensor& x, Tensor& y);
// gx = gy * dy/dx; reads x or y, whichever the op's derivative uses (the other may be
// undefined), exactly as kernels/cpu/elementwise.cpp does.
void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx);
void affine(const Tensor& x, double scale, double shift, Tensor& out);

}  // namespace whet::cuda
