// NHWC convolution through cuDNN, the CUDA twin of kernels/cpu/conv.cpp. Built only when
// cuDNN is found (WHET_WITH_CUDNN); otherwise the conv slots stay empty and ops say so.
// f32/f64 compute in themselves (TF32 only when allow_tf32() is set), f16/bf16 in float.
// Each distinct problem (shapes, dtype, options, direction) picks its cuDNN algorithm once.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

// x (N, H, W, C), w (O, KH, KW, C/groups), bias (O) or undefined -> y (N, OH, OW, O).
void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
            Tensor& y);
// gy (N, OH, OW, O), w (O, KH, KW, C/groups) -> gx (N, H, W, C).
void conv2d_backward_input(const Tensor& gy, const Tensor& w, const Conv2dOptions& o, Tensor& gx);
// gy (N, OH, OW, O), x (N, H, W, C) -> gw (O, KH, KW, C/groups), overwritten (not accumulated).
void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Conv2dOptions& o, Tensor& gw);

}  // namespace whet::cuda
