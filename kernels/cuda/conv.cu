// NHWC 2-D convolution through cuDNN's convolution API (forward, backward data, backward
// filter), the CUDA twin of kernels/cpu/conv.cpp. The entry points check their arguments
// (conv_problem), pick and run a cuDNN algorithm (conv_algorithm, with the NCHW route of
// conv_staging) and add the bias.
//
// Layout. whet's activations (N, H, W, C) and weights (O, KH, KW, C/groups) are exactly
// cuDNN's NHWC tensor and NHWC filter formats, so f32, f16 and bf16 run on whet's buffers as
// they are. float64 goes through NCHW copies: cuDNN's NHWC kernels cover the half and float
// configurations, not double (PyTorch sends float64 to NCHW for the same reason), and float64
// serves gradient checks, not speed. A problem for which no NHWC algorithm runs takes the
// same NCHW route rather than failing.
//
// Algorithms. Chosen once per problem (direction, dtype, math mode, extents, options, buffer
// alignment) and cached for the process; see conv_algorithm.cuh. Workspaces come from the
// caching allocator: stream-ordered, reused.
//
// Math. f32 pins cuDNN to FMA math (no TF32) unless allow_tf32() is set; f16/bf16 may use
// tensor cores and accumulate in float; f64 computes in double. Scaling factors are double
// for double tensors and float otherwise (cuDNN's rule).
#ifdef WHET_WITH_CUDNN  // without cuDNN the conv slots stay empty (kernels/cuda/backend.cu)

#include "kernels/cuda/conv.cuh"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_algorithm.cuh"

namespace whet::cuda {

using conv_detail::Direction;

// y (M, O) += bias (O), in the compute type (float for the half types).
template <class T>
static __global__ void add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t o,
                                       int64_t total) {
  using C = compute_t<T>;
  for (int64_t i = thread_index(); i < total; i += thread_count())
    y[i] = cast_to<T>(cast_to<C>(y[i]) + cast_to<C>(bias[i % o]));
}

// y (N, OH, OW, O) += bias (O).
static void add_bias(Tensor& y, const Tensor& bias, const Context& ctx) {
  const int64_t total = y.numel(), o = bias.numel();
  dispatch_floating(y.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_bias_kernel<<<grid_for(total, ctx), kThreads, 0, ctx.stream()>>>(
        static_cast<T*>(y.raw_data()), static_cast<const T*>(bias.raw_data()), o, total);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

// Writes +0.0 (all-zero bits in every floating type) over t.
static void zero(Tensor& t, const Context& ctx) {
  WHET_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), ctx.stream()));
}

void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
            Tensor& y) {
  conv_detail::check_args(Direction::forward, x, w, y, bias, o);
  if (y.numel() == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (x.numel() == 0)  // C, H or W is 0: every sum is empty or reads padding only
    zero(y, ctx);
  else
    conv_detail::execute(conv_detail::make_problem(Direction::forward, x, w, y, o),
                         {x.raw_data(), w.raw_data(), y.raw_data()}, ctx);
  if (bias.defined()) add_bias(y, bias, ctx);
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, const Conv2dOptions& o, Tensor& gx) {
  conv_detail::check_args(Direction::backward_data, gx, w, gy, Tensor(), o);
  if (gx.numel() == 0) return;
  const int dev = gx.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (gy.numel() == 0)  // no output channels (O = 0), or no output positions: nothing flows back
    zero(gx, ctx);
  else
    conv_detail::execute(conv_detail::make_problem(Direction::backward_data, gx, w, gy, o),
                         {gx.raw_data(), w.raw_data(), gy.raw_data()}, ctx);
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Conv2dOptions& o, Tensor& gw) {
  conv_detail::check_args(Direction::backward_filter, x, gw, gy, Tensor(), o);
  if (gw.numel() == 0) return;
  const int dev = gw.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (gy.numel() == 0 || x.numel() == 0)  // an empty batch or all-padding input adds nothing
    zero(gw, ctx);
  else
    conv_detail::execute(conv_detail::make_problem(Direction::backward_filter, x, gw, gy, o),
                         {x.raw_data(), gw.raw_data(), gy.raw_data()}, ctx);
}

}  // namespace whet::cuda

#endif  // WHET_WITH_CUDNN
