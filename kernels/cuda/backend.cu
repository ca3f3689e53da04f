// The CUDA kernel table (core/backend.h). Slots left empty have no CUDA kernel; ops report that
// by name.
#include "core/backend.h"
#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/batchnorm.cuh"
#include "kernels/cuda/binary.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/conv.cuh"
#include "kernels/cuda/copy.cuh"
#include "kernels/cuda/fill.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/movement.cuh"
#include "kernels/cuda/optim_step.cuh"
#include "kernels/cuda/pinned.cuh"
#include "kernels/cuda/pool.cuh"
#include "kernels/cuda/random.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/softmax.cuh"
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
    t.allocate_pinned = cuda::pinned_allocate;
    t.deallocate_pinned = cuda::pinned_deallocate;
    t.fill = cuda::fill;
    t.arange = cuda::arange;
    t.random = cuda::random;
    t.unary = cuda::unary;
    t.unary_backward = cuda::unary_backward;
    t.binary = cuda::binary;
    t.affine = cuda::affine;
    t.reduce = cuda::reduce;
    t.permute = cuda::permute;
    t.copy_block = cuda::copy_block;
    t.extract_block = cuda::extract_block;
    t.matmul = cuda::matmul;
#ifdef WHET_WITH_CUDNN  // convolution goes through cuDNN; without it the slots stay empty
    t.conv2d = cuda::conv2d;
    t.conv2d_backward_input = cuda::conv2d_backward_input;
    t.conv2d_backward_weight = cuda::conv2d_backward_weight;
#endif
    t.max_pool2d = cuda::max_pool2d;
    t.max_pool2d_backward = cuda::max_pool2d_backward;
    t.avg_pool2d = cuda::avg_pool2d;
    t.avg_pool2d_backward = cuda::avg_pool2d_backward;
    t.adaptive_avg_pool2d = cuda::adaptive_avg_pool2d;
    t.adaptive_avg_pool2d_backward = cuda::adaptive_avg_pool2d_backward;
    t.batch_norm = cuda::batch_norm;
    t.batch_norm_backward = cuda::batch_norm_backward;
    t.softmax = cuda::softmax;
    t.softmax_backward = cuda::softmax_backward;
    t.cross_entropy = cuda::cross_entropy;
    t.cross_entropy_backward = cuda::cross_entropy_backward;
    t.dropout_mask = cuda::dropout_mask;
    t.sgd_step = cuda::sgd_step;
    t.adam_step = cuda::adam_step;
    t.rmsprop_step = cuda::rmsprop_step;
    t.amp_unscale = cuda::amp_unscale;
    t.amp_update_scale = cuda::amp_update_scale;
    return t;
  }();
  return &b;
}

}  // namespace whet
