// The cuDNN handle of each device, bound to that device's context stream (context.cuh), so
// cuDNN work is ordered with every other kernel and with the caching allocator's reuse.
// A narrow header: only the files that call cuDNN include it, and with it cudnn.h; it exists
// in builds with cuDNN only (WHET_WITH_CUDNN).
#pragma once
#include <cudnn.h>

namespace whet::cuda {

// Created on first use (thread-safe) and kept for the life of the process, as the contexts
// are. Like the context's cuBLAS handle, it serves one host thread at a time.
cudnnHandle_t cudnn_handle(int device);

}  // namespace whet::cuda
