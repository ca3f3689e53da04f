// Reductions over the middle axis of x viewed as (outer, R, inner), the CUDA twin of
// kernels/cpu/reduce.cpp: sum/mean/max/min into x's dtype, argmax/argmin into int64.
// Half types accumulate in float, float in float, double in double, integers in int64.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out);

}  // namespace whet::cuda
