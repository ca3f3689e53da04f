// Channels-last batch norm over x (M, C), the CUDA twin of kernels/cpu/batchnorm.cpp.
// dtypes: x float32 or float64 with weight, bias, running and saved statistics of its dtype;
// x float16/bfloat16 with those float32 (mixed precision) or of x's own dtype. y and gx take
// x's dtype, gw and gb the parameters'. Statistics accumulate in float (double for float64)
// and are reduced deterministically, without atomics.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                Tensor& running_var, bool training, double momentum, double eps, Tensor& y,
                Tensor& save_mean, Tensor& save_invstd);
void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         Tensor& gx, Tensor& gw, Tensor& gb);

}  // namespace whet::cuda
