// Autocast: mixed precision as a policy applied at op entry (ARCHITECTURE.md, decision 7), as
// torch.autocast. Inside an enabled AutocastGuard:
//   - matrix ops (matmul, linear, conv2d) cast their floating float32 inputs (activations,
//     weights, biases) to the guard's dtype through the differentiable `cast`, so they compute
//     in half and the gradients of float32 master weights come back in float32;
//   - fp32 ops (softmax, log_softmax, cross_entropy, the losses of nn/loss.h, sum and mean)
//     cast half inputs up to float32 and return float32;
//   - batch_norm takes the activation's dtype as it comes and keeps its parameters, running
//     statistics and batch statistics in float32;
//   - every other op runs in the dtype that arrives; binary ops on mixed floating dtypes
//     promote (core/ops.h, result_dtype).
// float64 inputs are never cast (as PyTorch). The state is thread-local, and one policy serves
// every device (PyTorch keeps one per device type). Backward passes run with autocast off:
// each gradient comes back in the dtype its forward used.
//
//   {
//     AutocastGuard autocast(DType::bf16);
//     Tensor loss = cross_entropy(model.forward(x), y);  // bf16 convs, float32 loss
//   }
//   loss.backward();  // float32 gradients on the float32 parameters
#pragma once
#include <initializer_list>
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace whet {

bool autocast_enabled();
DType autocast_dtype();  // the dtype of the innermost guard (bfloat16 when none is active)

// Sets the autocast state for a scope and restores the previous one on exit, so guards nest.
// `enabled = false` turns autocast off inside an enabled region (torch.autocast(enabled=False)).
// dtype must be float16 or bfloat16.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DType prev_dtype_;
};

// What autocast does with an op's floating inputs.
enum class CastPolicy {
  lower_precision,  // float32 (and the other half type) to the autocast dtype
  fp32,             // half types to float32
};

// The inputs an op should run on under the current autocast state, or nothing when it should
// run on them as given (autocast off, or no input needs a cast). Undefined, integer and
// float64 tensors pass through. Ops call it first and run again on the cast inputs:
//   if (auto a = autocast_inputs(CastPolicy::lower_precision, {x, w, b}))
//     return conv2d((*a)[0], (*a)[1], (*a)[2], o);
std::optional<std::vector<Tensor>> autocast_inputs(CastPolicy policy,
                                                   std::initializer_list<Tensor> inputs);

}  // namespace whet
