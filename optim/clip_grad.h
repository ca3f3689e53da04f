// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_. Parameters without
// a gradient are ignored. Everything stays in tensor ops (no host read), so a device run is
// not synchronised; grads are scaled in place and keep their identity.
#pragma once
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace whet::optim {

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// total = ‖(‖g_1‖_p, …, ‖g_n‖_p)‖_p over the defined gradients (p = norm_type, 2 or inf
// typically; any p > 0 works). Every gradient is multiplied by min(1, max_norm / (total +
// 1e-6)), exactly as PyTorch, and the total norm (0-D, before clipping) is returned.
// error_if_nonfinite throws when the total is NaN or inf (this reads it on the host).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false);

// The total norm alone (torch.nn.utils.get_total_norm) of the given tensors.
Tensor total_norm(const std::vector<Tensor>& tensors, double norm_type = 2.0);

// Clamps every gradient into [-clip_value, clip_value] in place.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace whet::optim
