// Fused optimizer updates and loss scaling, the CUDA twins of kernels/cpu/optim_step.cpp
// (core/backend.h, "optimizer updates"). float32 and float64 only. The 0-D device scalars
// (found_inf, step, scale, growth_tracker) are read and written by the kernels themselves:
// nothing here reads them on the host or synchronizes.
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, bool first_step,
              const SgdStepOptions& o, const Tensor& found_inf);
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
               Tensor& max_exp_avg_sq, Tensor& step, const AdamStepOptions& o,
               const Tensor& found_inf);
void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                  Tensor& momentum_buffer, Tensor& step, const RmspropStepOptions& o,
                  const Tensor& found_inf);
void amp_unscale(Tensor& grad, const Tensor& scale, Tensor& found_inf);
void amp_update_scale(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval);

}  // namespace whet::cuda
