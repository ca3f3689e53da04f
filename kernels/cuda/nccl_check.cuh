// WHET_NCCL_CHECK: the NCCL member of the status-check family in check.cuh. Kept apart so
// only the files that call NCCL include nccl.h.
#pragma once
#include <nccl.h>

#include "kernels/cuda/check.cuh"

namespace whet::cuda {
inline const char* status_string(ncclResult_t s) { return ncclGetErrorString(s); }
}  // namespace whet::cuda

#define WHET_NCCL_CHECK(expr) WHET_STATUS_CHECK_("NCCL", ncclSuccess, throw_status, expr)
#define WHET_NCCL_WARN(expr) WHET_STATUS_CHECK_("NCCL", ncclSuccess, warn_status, expr)
