// The CPU kernel table. Arithmetic kernels are float32/float64 templates; with_half extends
// them to float16 and bfloat16 (kernels/cpu/half_adapter.h).
#include "kernels/cpu/half_adapter.h"
#include "kernels/cpu/kernels.h"

namespace whet {

const Backend& cpu_backend() {
  static const Backend b = [] {
    Backend t{};
    t.name = "cpu";
    t.allocate = cpu::allocate;
    t.deallocate = cpu::deallocate;
    t.copy = cpu::copy;
    t.synchronize = cpu::synchronize;
    t.device_count = [] { return 1; };
    t.fill = cpu::fill;
    t.arange = cpu::arange;
    t.random = cpu::random;
    t.unary = cpu::with_half<cpu::unary>;
    t.unary_backward = cpu::with_half<cpu::unary_backward>;
    t.binary = cpu::binary;
    t.affine = cpu::with_half<cpu::affine>;
    t.reduce = cpu::reduce;
    t.permute = cpu::permute;
    t.copy_block = cpu::copy_block;
    t.extract_block = cpu::extract_block;
    t.matmul = cpu::with_half<cpu::matmul>;
    t.conv2d = cpu::with_half<cpu::conv2d>;
    t.conv2d_backward_input = cpu::with_half<cpu::conv2d_backward_input>;
    t.conv2d_backward_weight = cpu::with_half<cpu::conv2d_backward_weight>;
    t.max_pool2d = cpu::with_half<cpu::max_pool2d>;
    t.max_pool2d_backward = cpu::with_half<cpu::max_pool2d_backward>;
    t.avg_pool2d = cpu::with_half<cpu::avg_pool2d>;
    t.avg_pool2d_backward = cpu::with_half<cpu::avg_pool2d_backward>;
    t.adaptive_avg_pool2d = cpu::with_half<cpu::adaptive_avg_pool2d>;
    t.adaptive_avg_pool2d_backward = cpu::with_half<cpu::adaptive_avg_pool2d_backward>;
    t.batch_norm = cpu::with_half<cpu::batch_norm, 3, 4>;  // running_mean, running_var: read too
    t.batch_norm_backward = cpu::with_half<cpu::batch_norm_backward>;
    t.softmax = cpu::with_half<cpu::softmax>;
    t.softmax_backward = cpu::with_half<cpu::softmax_backward>;
    t.cross_entropy = cpu::with_half<cpu::cross_entropy>;
    t.cross_entropy_backward = cpu::with_half<cpu::cross_entropy_backward>;
    t.dropout_mask = cpu::with_half<cpu::dropout_mask>;
    t.sgd_step = cpu::sgd_step;
    t.adam_step = cpu::adam_step;
    t.rmsprop_step = cpu::rmsprop_step;
    t.amp_unscale = cpu::amp_unscale;
    t.amp_update_scale = cpu::amp_update_scale;
    return t;
  }();
  return b;
}

}  // namespace whet
