// Elementwise binary ops with NumPy broadcasting; comparisons write bool.
// f16/bf16 compute in float, integers in int64 (as kernels/cpu/elementwise.cpp does).
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);

}  // namespace whet::cuda
