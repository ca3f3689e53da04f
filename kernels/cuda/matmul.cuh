// Batched matrix multiply through cuBLAS.
#pragma once
#include "core/tensor.h"

namespace whet::cuda {

// out (B, M, N) = op(a) (B|1, M, K) @ op(b) (B|1, K, N), op transposing the last two dims when
// its flag is set; a batch extent of 1 broadcasts. f32 and f64 in their own precision (no
// TF32), f16 and bf16 with f32 accumulation.
void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out);

}  // namespace whet::cuda
