// The one dispatch point (ARCHITECTURE.md, decision 5): a table of kernel entry points per
// device. kernels/cpu fills the CPU table, kernels/cuda the CUDA one; core/ops.cpp computes
// shapes, allocates outputs, records autograd, and calls backend(device).slot(...).
// An empty slot means "no kernel on this device" and ops report it by name.
//
// Kernel conventions: every tensor is contiguous; outputs arrive allocated with the right
// shape and dtype; kernels never allocate outputs themselves. Shapes in comments use fixed
// letters: N batch, H/W spatial, C channels, O output channels, K reduction length.
#pragma once
#include <cstdint>
#include <vector>

#include "core/options.h"
#include "core/tensor.h"

namespace whet {

enum class UnaryOp {
  neg, abs, exp, log, sqrt, rsqrt, sin, cos, square, reciprocal, sign,
  relu, relu6, sigmoid, tanh, silu, hardswish, hardsigmoid, gelu,
};
enum class BinaryOp { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };
enum class ReduceOp { sum, mean, max, min, argmax, argmin };
enum class RandomKind { uniform, normal, randint };

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);
const char* reduce_op_name(ReduceOp op);
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }

struct Backend {
  const char* name;

  // ---- memory ----
  void* (*allocate)(size_t nbytes, int device);
  void (*deallocate)(void* p, size_t nbytes, int device);
  // Copies between two tensors of equal numel where at least one is on this backend's device;
  // converts dtype when they differ. Host<->device goes through pinned staging.
  void (*copy)(const Tensor& src, Tensor& dst);
  void (*synchronize)(int device);
  int (*device_count)();
  // Page-locked host memory, which host->device copies read by DMA without staging and
  // without waiting (core/pinned.h). Only the CUDA backend fills these.
  void* (*allocate_pinned)(size_t nbytes);
  void (*deallocate_pinned)(void* p, size_t nbytes);

  // ---- creation ----
  void (*fill)(Tensor& out, double value);
  void (*arange)(Tensor& out, double start, double step);
  // Philox4x32-10 (core/rng.h): element i draws from counter (offset + i) under key `seed`,
  // so every device produces the same numbers. uniform [a, b), normal (mean a, std b),
  // randint [a, b).
  void (*random)(Tensor& out, RandomKind kind, double a, double b, uint64_t seed,
                 uint64_t offset);

  // ---- elementwise ----
  void (*unary)(UnaryOp op, const Tensor& x, Tensor& y);
  // gx = gy * dy/dx, from x and/or y (the kernel reads the one its formula needs).
  void (*unary_backward)(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy,
                         Tensor& gx);
  // out = a op b with NumPy broadcasting to out's shape; comparisons write bool.
  void (*binary)(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
  // out = x * scale + shift (scale/shift as scalars), the affine step optimizers and casts use.
  void (*affine)(const Tensor& x, double scale, double shift, Tensor& out);

  // ---- reductions ----
  // x viewed as (outer, R, inner) reduced over R into out (outer, inner); argmax/argmin
  // write int64. mean divides by R.
  void (*reduce)(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                 Tensor& out);

  // ---- data movement ----
  void (*permute)(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out);
  // Copies x viewed as (outer, x_inner) into columns [col, col + x_inner) of out viewed as
  // (outer, out_inner): the block copy behind concat, stack and narrow (and their gradients).
  void (*copy_block)(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                     int64_t out_inner, int64_t col);
  // The reverse: out (outer, out_inner) = columns [col, col + out_inner) of x (outer, x_inner).
  void (*extract_block)(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                        int64_t out_inner, int64_t col);

  // ---- linear algebra ----
  // out (B, M, N) = op(a) (B|1, M, K) @ op(b) (B|1, K, N); op transposes the last two dims when
  // the flag is set. A batch extent of 1 broadcasts.
  void (*matmul)(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out);

  // ---- convolution, NHWC ----
  // x (N, H, W, C), w (O, KH, KW, C/groups), bias (O) or undefined, y (N, OH, OW, O).
  void (*conv2d)(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
                 Tensor& y);
  void (*conv2d_backward_input)(const Tensor& gy, const Tensor& w, const Conv2dOptions& o,
                                Tensor& gx);
  void (*conv2d_backward_weight)(const Tensor& gy, const Tensor& x, const Conv2dOptions& o,
                                 Tensor& gw);

  // ---- pooling, NHWC ----
  // indices (N, OH, OW, C) int64: the flat h*W+w position of each maximum in its image plane.
  void (*max_pool2d)(const Tensor& x, const Pool2dOptions& o, Tensor& y, Tensor& indices);
  void (*max_pool2d_backward)(const Tensor& gy, const Tensor& indices, Tensor& gx);
  void (*avg_pool2d)(const Tensor& x, const Pool2dOptions& o, Tensor& y);
  void (*avg_pool2d_backward)(const Tensor& gy, const Pool2dOptions& o, Tensor& gx);
  // PyTorch's adaptive bins: start = floor(i*H/OH), end = ceil((i+1)*H/OH).
  void (*adaptive_avg_pool2d)(const Tensor& x, Tensor& y);
  void (*adaptive_avg_pool2d_backward)(const Tensor& gy, Tensor& gx);

  // ---- batch norm, channels last: x (M, C) with M = N*H*W ----
  // dtypes: x float32 or float64 with weight, bias, running and saved statistics of its dtype,
  // or x float16/bfloat16 with all of those float32 (mixed precision). y and gx have x's
  // dtype, gw and gb the parameters'.
  // training: normalise with batch statistics, save mean and 1/sqrt(var+eps), and update the
  // running statistics in place (momentum, unbiased variance) when they are defined.
  // eval: normalise with the running statistics (save_* are filled from them too).
  void (*batch_norm)(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     Tensor& running_mean, Tensor& running_var, bool training, double momentum,
                     double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd);
  // Any of gx, gw, gb may be undefined (not needed). weight may be undefined (affine=false).
  void (*batch_norm_backward)(const Tensor& gy, const Tensor& x, const Tensor& weight,
                              const Tensor& save_mean, const Tensor& save_invstd, bool training,
                              Tensor& gx, Tensor& gw, Tensor& gb);

  // ---- softmax family, x viewed as (outer, D, inner) normalised over D ----
  void (*softmax)(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log,
                  Tensor& y);
  void (*softmax_backward)(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d,
                           int64_t inner, bool log, Tensor& gx);
  // Fused log-softmax + negative log-likelihood. logits (N, C), target (N) int64,
  // class_weight (C) or undefined. losses (N): per-sample loss (0 where ignored), already
  // multiplied by its class weight; weight_sum (1): sum of the weights of counted samples
  // (the divisor of reduction=mean); lse (N): saved log-sum-exp for backward.
  void (*cross_entropy)(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                        const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum,
                        Tensor& lse);
  // glogits (N, C) from the per-sample loss gradient glosses (N).
  void (*cross_entropy_backward)(const Tensor& logits, const Tensor& target,
                                 const Tensor& class_weight, const CrossEntropyOptions& o,
                                 const Tensor& lse, const Tensor& glosses, Tensor& glogits);

  // ---- optimizer updates and loss scaling (optim/): one fused pass per parameter ----
  // param, grad and the state tensors share one shape and dtype (float32 or float64) and this
  // device. Scalars are rounded to that dtype where PyTorch's CPU kernels round them, so
  // float64 trajectories match torch.optim's. found_inf is undefined or a 0-D float32 on the
  // device: when it holds a non-zero the kernel writes nothing at all (GradScaler's skipped
  // step, decided on the device without a host read).
  // SGD: momentum_buffer is undefined when momentum is 0; first_step makes the buffer the
  // (decayed) gradient itself, undampened, as PyTorch's first momentum step.
  void (*sgd_step)(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, bool first_step,
                   const SgdStepOptions& o, const Tensor& found_inf);
  // Adam and AdamW: step is the 0-D float32 count of applied updates (PyTorch's
  // state["step"]), incremented here; max_exp_avg_sq is defined exactly when amsgrad is.
  void (*adam_step)(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                    Tensor& max_exp_avg_sq, Tensor& step, const AdamStepOptions& o,
                    const Tensor& found_inf);
  // RMSprop: grad_avg is defined exactly when centered, momentum_buffer when momentum > 0;
  // step counts as Adam's.
  void (*rmsprop_step)(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                       Tensor& momentum_buffer, Tensor& step, const RmspropStepOptions& o,
                       const Tensor& found_inf);
  // GradScaler's unscale (torch._amp_foreach_non_finite_check_and_unscale_ for one tensor):
  // found_inf (0-D float32) becomes 1 when grad holds an inf or NaN, and is never cleared
  // here; then grad *= float32(1 / double(scale)). grad float32 or float64, scale 0-D float32.
  void (*amp_unscale)(Tensor& grad, const Tensor& scale, Tensor& found_inf);
  // torch._amp_update_scale_: scale (0-D float32), growth_tracker (0-D int64), found_inf
  // (0-D float32). On inf: scale *= backoff, tracker = 0. Otherwise tracker += 1, and when it
  // reaches growth_interval: scale *= growth (kept only when finite), tracker = 0.
  void (*amp_update_scale)(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                           double growth_factor, double backoff_factor,
                           int64_t growth_interval);

  // ---- dropout ----
  // mask = (uniform >= p) / (1 - p), drawn like `random` with the same (seed, offset) rule.
  void (*dropout_mask)(Tensor& mask, double p, uint64_t seed, uint64_t offset);
};

const Backend& cpu_backend();
const Backend* cuda_backend();  // nullptr when whet was built without CUDA
const Backend& backend(Device d);  // throws when the device's backend is not built in

// Runtime facts about CUDA, answered without a device present.
bool cuda_compiled();
int cuda_device_count();  // 0 when not compiled or no device/driver

}  // namespace whet
