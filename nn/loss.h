// Losses, as torch.nn.functional's (and their module forms). Each returns a scalar for
// reduction mean/sum, or per-element values for none. Any function built from tensor ops is
// a custom loss too: autograd differentiates it (see tests/test_nn.cpp). Under autocast
// (core/autocast.h) every loss casts half inputs to float32 and returns float32.
#pragma once
#include <vector>

#include "core/ops.h"

namespace whet::nn {

// F.cross_entropy(logits (N, C), target (N) int64, weight, ignore_index, reduction,
// label_smoothing): fused log-softmax + NLL.
Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target,
                          const CrossEntropyOptions& o = {}, const Tensor& class_weight = Tensor());
// F.mse_loss: (x - y)^2.
Tensor mse_loss(const Tensor& x, const Tensor& y, Reduction r = Reduction::mean);
// F.l1_loss: |x - y|.
Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction r = Reduction::mean);
// F.smooth_l1_loss(beta): 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta.
Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, Reduction r = Reduction::mean,
                      double beta = 1.0);
// F.binary_cross_entropy_with_logits(x, y, weight): max(x, 0) - x y + log(1 + exp(-|x|)),
// with the gradient sigmoid(x) - y computed exactly (also at x = 0).
Tensor bce_with_logits_loss(const Tensor& x, const Tensor& y, Reduction r = Reduction::mean,
                            const Tensor& weight = Tensor());

// Regularisation penalties over a parameter set: sum |p| and sum p^2 (multiply by your
// coefficient; weight decay in an optimizer is the usual alternative to the L2 form).
Tensor l1_penalty(const std::vector<Tensor>& params);
Tensor l2_penalty(const std::vector<Tensor>& params);

// Applies a reduction to per-element losses.
Tensor reduce_loss(const Tensor& per_element, Reduction r);

}  // namespace whet::nn
