// Data movement, the CUDA twins of kernels/cpu/movement.cpp: permute (any rank, any dtype)
// and the block copies behind concat, stack and narrow.
#pragma once
#include <vector>

#include "core/backend.h"

namespace whet::cuda {

void permute(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out);
void copy_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out, int64_t out_inner,
                int64_t col);
void extract_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                   int64_t out_inner, int64_t col);

}  // namespace whet::cuda
