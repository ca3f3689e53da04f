// WHET_CUDNN_CHECK: the cuDNN member of the status-check family in check.cuh. Kept apart so
// only the files that call cuDNN include cudnn.h.
#pragma once
#include <cudnn.h>

#include "kernels/cuda/check.cuh"

namespace whet::cuda {
inline const char* status_string(cudnnStatus_t s) { return cudnnGetErrorString(s); }
}  // namespace whet::cuda

#define WHET_CUDNN_CHECK(expr) WHET_STATUS_CHECK_("cuDNN", CUDNN_STATUS_SUCCESS, throw_status, expr)
#define WHET_CUDNN_WARN(expr) WHET_STATUS_CHECK_("cuDNN", CUDNN_STATUS_SUCCESS, warn_status, expr)
