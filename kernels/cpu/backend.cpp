// The CPU kernel table.
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
    t.unary = cpu::unary;
    t.unary_backward = cpu::unary_backward;
    t.binary = cpu::binary;
    t.affine = cpu::affine;
    t.reduce = cpu::reduce;
    t.permute = cpu::permute;
    t.copy_block = cpu::copy_block;
    t.extract_block = cpu::extract_block;
    t.matmul = cpu::matmul;
    t.conv2d = cpu::conv2d;
    t.conv2d_backward_input = cpu::conv2d_backward_input;
    t.conv2d_backward_weight = cpu::conv2d_backward_weight;
    t.max_pool2d = cpu::max_pool2d;
    t.max_pool2d_backward = cpu::max_pool2d_backward;
    t.avg_pool2d = cpu::avg_pool2d;
    t.avg_pool2d_backward = cpu::avg_pool2d_backward;
    t.adaptive_avg_pool2d = cpu::adaptive_avg_pool2d;
    t.adaptive_avg_pool2d_backward = cpu::adaptive_avg_pool2d_backward;
    t.batch_norm = cpu::batch_norm;
    t.batch_norm_backward = cpu::batch_norm_backward;
    t.softmax = cpu::softmax;
    t.softmax_backward = cpu::softmax_backward;
    t.cross_entropy = cpu::cross_entropy;
    t.cross_entropy_backward = cpu::cross_entropy_backward;
    t.dropout_mask = cpu::dropout_mask;
    return t;
  }();
  return b;
}

}  // namespace whet
