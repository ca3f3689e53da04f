// Softmax, log-softmax and fused cross-entropy, the CUDA twins of kernels/cpu/softmax.cpp.
// Half types compute in float (ARCHITECTURE.md decision 7: softmax and losses in fp32).
#pragma once
#include "core/backend.h"

namespace whet::cuda {

void softmax(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& y);
void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d, int64_t inner,
                      bool log, Tensor& gx);
void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                   const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum, Tensor& lse);
void cross_entropy_backward(const Tensor& logits, const Tensor& target,
                            const Tensor& class_weight, const CrossEntropyOptions& o,
                            const Tensor& lse, const Tensor& glosses, Tensor& glogits);

}  // namespace whet::cuda
