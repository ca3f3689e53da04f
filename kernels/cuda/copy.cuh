// Copies between host and device and between devices, with dtype conversion on the device.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/tensor.h"

namespace whet::cuda {

class Context;

// The Backend slot: src and dst have equal numel, at least one is on a CUDA device.
void copy(const Tensor& src, Tensor& dst);

// dst[i] = cast_value<D>(src[i]) for n elements already on ctx's device (any two dtypes;
// equal dtypes become a memcpy). Queued on ctx.stream().
void convert(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n, Context& ctx);

}  // namespace whet::cuda
