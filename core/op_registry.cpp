#include "core/op_registry.h"

namespace whet {

namespace {
#define SLOT(expr) [](const Backend& b) { return bool(expr); }

std::vector<OpInfo> build() {
  std::vector<OpInfo> ops;
  auto unary_diff = [](UnaryOp op) { return op != UnaryOp::sign; };
  for (int i = 0; i <= int(UnaryOp::gelu); ++i) {
    auto op = UnaryOp(i);
    ops.push_back({unary_op_name(op), unary_diff(op), SLOT(b.unary && b.unary_backward)});
  }
  for (int i = 0; i <= int(BinaryOp::ge); ++i) {
    auto op = BinaryOp(i);
    ops.push_back({binary_op_name(op), !is_comparison(op), SLOT(b.binary)});
  }
  std::vector<OpInfo> rest = {
      {"zeros", false, SLOT(b.fill)},
      {"ones", false, SLOT(b.fill)},
      {"full", false, SLOT(b.fill)},
      {"arange", false, SLOT(b.arange)},
      {"rand", false, SLOT(b.random)},
      {"randn", false, SLOT(b.random)},
      {"randint", false, SLOT(b.random)},
      {"cast", true, SLOT(b.copy)},
      {"to_device", true, SLOT(b.copy)},
      {"sum", true, SLOT(b.reduce)},
      {"mean", true, SLOT(b.reduce)},
      {"amax", true, SLOT(b.reduce)},
      {"amin", true, SLOT(b.reduce)},
      {"argmax", false, SLOT(b.reduce)},
      {"argmin", false, SLOT(b.reduce)},
      {"matmul", true, SLOT(b.matmul)},
      {"linear", true, SLOT(b.matmul && b.reduce)},
      {"reshape", true, [](const Backend&) { return true; }},  // a view: no kernel needed
      {"permute", true, SLOT(b.permute)},
      {"transpose", true, SLOT(b.permute)},
      {"concat", true, SLOT(b.copy_block && b.extract_block)},
      {"stack", true, SLOT(b.copy_block && b.extract_block)},
      {"narrow", true, SLOT(b.copy_block && b.extract_block)},
      {"conv2d", true,
       SLOT(b.conv2d && b.conv2d_backward_input && b.conv2d_backward_weight && b.reduce)},
      {"max_pool2d", true, SLOT(b.max_pool2d && b.max_pool2d_backward)},
      {"avg_pool2d", true, SLOT(b.avg_pool2d && b.avg_pool2d_backward)},
      {"adaptive_avg_pool2d", true,
       SLOT(b.adaptive_avg_pool2d && b.adaptive_avg_pool2d_backward)},
      {"batch_norm", true, SLOT(b.batch_norm && b.batch_norm_backward)},
      {"softmax", true, SLOT(b.softmax && b.softmax_backward)},
      {"log_softmax", true, SLOT(b.softmax && b.softmax_backward)},
      {"dropout", true, SLOT(b.dropout_mask && b.binary)},
      {"cross_entropy", true, SLOT(b.cross_entropy && b.cross_entropy_backward)},
      // Not autograd ops: the fused updates optim/ runs, so a device lacking them cannot train.
      {"sgd_step", false, SLOT(b.sgd_step)},
      {"adam_step", false, SLOT(b.adam_step)},
      {"rmsprop_step", false, SLOT(b.rmsprop_step)},
      {"amp_unscale", false, SLOT(b.amp_unscale)},
      {"amp_update_scale", false, SLOT(b.amp_update_scale)},
  };
  ops.insert(ops.end(), rest.begin(), rest.end());
  return ops;
}
#undef SLOT
}  // namespace

const std::vector<OpInfo>& op_registry() {
  static const std::vector<OpInfo> ops = build();
  return ops;
}

}  // namespace whet
