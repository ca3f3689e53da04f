#include "core/optim_step_args.h"

#include <string>

namespace whet {

namespace {

// A tensor the update cannot do without.
void check_given(const char* op, const Tensor& t, const char* name) {
  WHET_CHECK(t.defined(), op, ": ", name, " is required");
}

// A state tensor, when defined: the parameter's dtype, element count and device.
void check_state(const char* op, const Tensor& param, const Tensor& t, const char* name) {
  if (!t.defined()) return;
  WHET_CHECK(t.dtype() == param.dtype() && t.numel() == param.numel(), op, ": ", name, " is ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()), ", the parameter ",
             dtype_name(param.dtype()), " ", shape_str(param.shape()));
  WHET_CHECK(t.device() == param.device(), op, ": ", name, " is on ", t.device().str(),
             ", the parameter on ", param.device().str());
}

// A one-element scalar (found_inf, step, scale, growth_tracker), when defined.
void check_scalar(const char* op, const Tensor& t, DType dt, Device dev, const char* name) {
  if (!t.defined()) return;
  WHET_CHECK(t.dtype() == dt && t.numel() == 1 && t.device() == dev, op, ": ", name,
             " must be a one-element ", dtype_name(dt), " tensor on ", dev.str(), ", got ",
             dtype_name(t.dtype()), " ", shape_str(t.shape()), " on ", t.device().str());
}

// The parameter, its gradient and found_inf: what every update takes.
void check_update(const char* op, const Tensor& param, const Tensor& grad,
                  const Tensor& found_inf) {
  check_given(op, param, "the parameter");
  check_given(op, grad, "grad");
  check_state(op, param, grad, "grad");
  check_scalar(op, found_inf, DType::f32, param.device(), "found_inf");
}

}  // namespace

void check_sgd_step_args(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                         const SgdStepOptions& o, const Tensor& found_inf) {
  const char* op = "sgd_step";
  check_update(op, param, grad, found_inf);
  if (o.momentum != 0) check_given(op, momentum_buffer, "momentum_buffer (momentum != 0)");
  check_state(op, param, momentum_buffer, "momentum_buffer");
}

void check_adam_step_args(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                          const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq,
                          const Tensor& step, const AdamStepOptions& o, const Tensor& found_inf) {
  const char* op = "adam_step";
  check_update(op, param, grad, found_inf);
  check_given(op, exp_avg, "exp_avg");
  check_given(op, exp_avg_sq, "exp_avg_sq");
  check_given(op, step, "step");
  WHET_CHECK(o.amsgrad == max_exp_avg_sq.defined(), op,
             ": max_exp_avg_sq is given exactly when amsgrad is on");
  check_state(op, param, exp_avg, "exp_avg");
  check_state(op, param, exp_avg_sq, "exp_avg_sq");
  check_state(op, param, max_exp_avg_sq, "max_exp_avg_sq");
  check_scalar(op, step, DType::f32, param.device(), "step");
}

void check_rmsprop_step_args(const Tensor& param, const Tensor& grad, const Tensor& square_avg,
                             const Tensor& grad_avg, const Tensor& momentum_buffer,
                             const Tensor& step, const RmspropStepOptions& o,
                             const Tensor& found_inf) {
  const char* op = "rmsprop_step";
  check_update(op, param, grad, found_inf);
  check_given(op, square_avg, "square_avg");
  check_given(op, step, "step");
  WHET_CHECK(o.centered == grad_avg.defined(), op,
             ": grad_avg is given exactly when centered is on");
  WHET_CHECK((o.momentum > 0) == momentum_buffer.defined(), op,
             ": momentum_buffer is given exactly when momentum > 0");
  check_state(op, param, square_avg, "square_avg");
  check_state(op, param, grad_avg, "grad_avg");
  check_state(op, param, momentum_buffer, "momentum_buffer");
  check_scalar(op, step, DType::f32, param.device(), "step");
}

void check_amp_unscale_args(const Tensor& grad, const Tensor& scale, const Tensor& found_inf) {
  const char* op = "amp_unscale";
  check_given(op, grad, "grad");
  check_given(op, scale, "scale");
  check_given(op, found_inf, "found_inf");
  check_scalar(op, scale, DType::f32, grad.device(), "scale");
  check_scalar(op, found_inf, DType::f32, grad.device(), "found_inf");
}

void check_amp_update_scale_args(const Tensor& scale, const Tensor& growth_tracker,
                                 const Tensor& found_inf) {
  const char* op = "amp_update_scale";
  check_given(op, scale, "scale");
  check_given(op, growth_tracker, "growth_tracker");
  check_given(op, found_inf, "found_inf");
  check_scalar(op, scale, DType::f32, scale.device(), "scale");
  check_scalar(op, growth_tracker, DType::i64, scale.device(), "growth_tracker");
  check_scalar(op, found_inf, DType::f32, scale.device(), "found_inf");
}

}  // namespace whet
