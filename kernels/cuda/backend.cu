// The CUDA kernel table (core/backend.h). Slots left empty have no CUDA kernel yet; ops report
// that by name.
#include "core/backend.h"
#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/binary.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/copy.cuh"
#include "kernels/cuda/fill.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/random.cuh"
#include "kernels/cuda/unary.cuh"

namespace whet {

namespace {
void synchronize_device(int device) {
  cuda::DeviceGuard guard(device);
  cuda::Context::get(device).synchronize();
}
}  // namespace

const Backend* cuda_backend() {
  static const Backend b = [] {
    Backend t{};
    t.name = "cuda";
    t.allocate = cuda::allocate;
    t.deallocate = cuda::deallocate;
    t.copy = cuda::copy;
    t.synchronize = synchronize_device;
    t.device_count = cuda::device_count;
    t.fill = cuda::fill;
    t.arange = cuda::arange;
    t.random = cuda::random;
    t.unary = cuda::unary;
    t.unary_backward = cuda::unary_backward;
    t.binary = cuda::binary;
    t.affine = cuda::affine;
    t.matmul = cuda::matmul;
    t.dropout_mask = cuda::dropout_mask;
    return t;
  }();
  return &b;
}

}  // namespace whet
