// Status checks for the CUDA runtime and cuBLAS (ARCHITECTURE.md, Kernels). One generator,
// WHET_STATUS_CHECK, records the expression, file and line and throws whet::Error; each
// library adds only "what success is" and "how to name a status". cuDNN and NCCL have their
// own narrow headers (cudnn_check.cuh, nccl_check.cuh) so nothing else needs their headers.
//
// Destructors never throw: they call the *_WARN forms, which print and carry on.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>

#include "core/error.h"

namespace whet::cuda {

inline const char* status_string(cudaError_t s) { return cudaGetErrorString(s); }
inline const char* status_string(cublasStatus_t s) { return cublasGetStatusString(s); }

// A failed runtime call is also recorded as the thread's "last error"; reset it once reported,
// so that the next launch check does not report it again. (A sticky error, such as an illegal
// address, stays with the context whatever we do.)
inline void clear_status(cudaError_t) { (void)cudaGetLastError(); }
template <class Status>
inline void clear_status(Status) {}

[[noreturn]] inline void throw_status(const char* lib, const char* expr, const char* status,
                                      const char* file, int line) {
  WHET_FAIL(lib, " error: ", status, "\n  in ", expr, "\n  at ", file, ":", line);
}
inline void warn_status(const char* lib, const char* expr, const char* status, const char* file,
                        int line) noexcept {
  std::fprintf(stderr, "whet: %s error ignored in cleanup: %s\n  in %s\n  at %s:%d\n", lib, status,
               expr, file, line);
}

}  // namespace whet::cuda

// The generator: evaluates `expr` once; when its status differs from `ok`, throws (or warns,
// with action = warn_status) naming library, status, expression and place.
#define WHET_STATUS_CHECK_(lib, ok, action, expr)                                           \
  do {                                                                                      \
    auto whet_status_ = (expr);                                                             \
    if (whet_status_ != (ok)) {                                                             \
      ::whet::cuda::clear_status(whet_status_);                                             \
      ::whet::cuda::action(lib, #expr, ::whet::cuda::status_string(whet_status_), __FILE__, \
                           __LINE__);                                                       \
    }                                                                                       \
  } while (0)

#define WHET_CUDA_CHECK(expr) WHET_STATUS_CHECK_("CUDA", cudaSuccess, throw_status, expr)
#define WHET_CUBLAS_CHECK(expr) \
  WHET_STATUS_CHECK_("cuBLAS", CUBLAS_STATUS_SUCCESS, throw_status, expr)
#define WHET_CUDA_WARN(expr) WHET_STATUS_CHECK_("CUDA", cudaSuccess, warn_status, expr)
#define WHET_CUBLAS_WARN(expr) \
  WHET_STATUS_CHECK_("cuBLAS", CUBLAS_STATUS_SUCCESS, warn_status, expr)

// After every kernel launch: reports a bad launch configuration (or an earlier asynchronous
// error) at the launch site rather than at some later, unrelated call.
#define WHET_CUDA_LAUNCH_CHECK() WHET_CUDA_CHECK(cudaGetLastError())
