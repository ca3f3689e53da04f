#include "optim/clip_grad.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace whet::optim {

namespace {
std::vector<Tensor> defined_grads(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

// torch.linalg.vector_norm(x, p) over all elements.
Tensor vector_norm(const Tensor& x, double p) {
  if (std::isinf(p)) return p > 0 ? amax(abs(x)) : amin(abs(x));
  if (p == 2.0) return sqrt(sum(x * x));
  if (p == 1.0) return sum(abs(x));
  return pow(sum(pow(abs(x), p)), 1.0 / p);
}
}  // namespace

Tensor total_norm(const std::vector<Tensor>& tensors, double norm_type) {
  WHET_CHECK(norm_type > 0 || std::isinf(norm_type), "clip_grad_norm_: norm_type must be "
             "positive or inf, not ", norm_type);
  NoGradGuard no_grad;
  if (tensors.empty()) return zeros({});
  // The norms meet on the first tensor's device, in the widest dtype (torch.stack promotes).
  Device dev = tensors[0].device();
  DType dt = DType::f32;
  for (const Tensor& t : tensors)
    if (t.dtype() == DType::f64) dt = DType::f64;
  std::vector<Tensor> norms;
  for (const Tensor& t : tensors) {
    WHET_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64,
               "clip_grad_norm_: gradients must be float32 or float64, not ",
               dtype_name(t.dtype()));
    norms.push_back(cast(to_device(vector_norm(t, norm_type), dev), dt));
  }
  return vector_norm(stack(norms), norm_type);
}

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  std::vector<Tensor> grads = defined_grads(params);
  Tensor total = total_norm(grads, norm_type);
  if (grads.empty()) return total;
  if (error_if_nonfinite) {
    double v = total.item();
    WHET_CHECK(std::isfinite(v), "clip_grad_norm_: the total norm of order ", norm_type,
               " for gradients from `parameters` is non-finite (", v, "), so it cannot be "
               "clipped; pass error_if_nonfinite=false to clip anyway");
  }
  NoGradGuard no_grad;
  // PyTorch: clip_coef = max_norm / (total + 1e-6), which Tensor.__rtruediv__ evaluates as
  // reciprocal(total + 1e-6) * max_norm; clamped to 1 and always applied (x * 1 is exact).
  Tensor coef = minimum(reciprocal(total + 1e-6) * max_norm, scalar_like(1.0, total));
  for (Tensor& g : grads) g.copy_(g * cast(to_device(coef, g.device()), g.dtype()));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard no_grad;
  for (Tensor& g : defined_grads(params))
    g.copy_(minimum(maximum(g, scalar_like(-clip_value, g)), scalar_like(clip_value, g)));
}

}  // namespace whet::optim
