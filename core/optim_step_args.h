// Argument checks of the fused optimizer and loss-scaling slots (core/backend.h), shared by
// the CPU and CUDA kernels so both refuse the same calls with the same messages: state
// tensors of the parameter's dtype, size and device; one-element scalars (step, found_inf,
// scale, growth tracker) of their dtype on that device.
#pragma once
#include "core/options.h"
#include "core/tensor.h"

namespace whet {

void check_sgd_step_args(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                         const SgdStepOptions& o, const Tensor& found_inf);
void check_adam_step_args(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                          const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq,
                          const Tensor& step, const AdamStepOptions& o, const Tensor& found_inf);
void check_rmsprop_step_args(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                             const Tensor& grad_avg, const Tensor& momentum_buffer,
                             const Tensor& step, const RmspropStepOptions& o,
                             const Tensor& found_inf);
void check_amp_unscale_args(const Tensor& grad, const Tensor& scale, const Tensor& found_inf);
void check_amp_update_scale_args(const Tensor& scale, const Tensor& growth_tracker,
                                 const Tensor& found_inf);

}  // namespace whet
