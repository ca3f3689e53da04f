// NHWC pooling, the CUDA twins of kernels/cpu/pool.cpp: same windows, index convention, tie
// and NaN rules and adaptive bins, for every floating dtype (half types compute in float).
// Backward passes gather in the CPU's order, so they are deterministic.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void max_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y, Tensor& indices);
void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx);
void avg_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y);
void avg_pool2d_backward(const Tensor& gy, const Pool2dOptions& o, Tensor& gx);
void adaptive_avg_pool2d(const Tensor& x, Tensor& y);
void adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx);

}  // namespace whet::cuda
