#include "kernels/cpu/half_adapter.h"

namespace whet::cpu::half_adapter {

Tensor widened(const Tensor& t) {
  Tensor w = widened_output(t);
  copy(t, w);
  return w;
}

Tensor widened_output(const Tensor& t) { return Tensor::empty(t.shape(), DType::f32, t.device()); }

}  // namespace whet::cpu::half_adapter
