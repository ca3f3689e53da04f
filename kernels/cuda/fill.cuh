// Creation kernels: constant fill and arange.
#pragma once
#include "core/tensor.h"

namespace whet::cuda {

// out[i] = cast_value<T>(value), the same bits the CPU kernel writes.
void fill(Tensor& out, double value);
// out[i] = cast_value<T>(start + i * step), computed in double without fma contraction.
void arange(Tensor& out, double start, double step);

}  // namespace whet::cuda
