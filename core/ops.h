// The op API: what users and modules call. Each op checks its arguments (throwing whet::Error
// naming the op and shapes), allocates its output, runs the device's kernel and, when an
// input requires grad, records its backward, which sits beside its forward in ops_*.cpp.
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.h"
#include "core/options.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace whet {

// ---- creation ----
Tensor zeros(const Shape& s, DType dt = DType::f32, Device d = Device::cpu());
Tensor ones(const Shape& s, DType dt = DType::f32, Device d = Device::cpu());
Tensor full(const Shape& s, double value, DType dt = DType::f32, Device d = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(double start, double end, double step = 1, DType dt = DType::f32,
              Device d = Device::cpu());
Tensor rand(const Shape& s, DType dt = DType::f32, Device d = Device::cpu(),
            Generator& g = default_generator());  // uniform [0, 1)
Tensor randn(const Shape& s, DType dt = DType::f32, Device d = Device::cpu(),
             Generator& g = default_generator());
Tensor randint(int64_t low, int64_t high, const Shape& s, DType dt = DType::i64,
               Device d = Device::cpu(), Generator& g = default_generator());
Tensor uniform(const Shape& s, double low, double high, DType dt = DType::f32,
               Device d = Device::cpu(), Generator& g = default_generator());

// ---- elementwise unary ----
Tensor unary(UnaryOp op, const Tensor& x);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, PyTorch's default approximate='none'

// ---- elementwise binary, NumPy broadcasting; scalars broadcast as 0-D tensors; mixed
// floating dtypes promote (result_type) ----
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor scalar_like(double v, const Tensor& like);  // 0-D tensor of like's dtype and device
// The dtype binary ops compute and return for a and b (torch.result_type, floating dtypes):
// float64 wins; float32 with a half type, or float16 with bfloat16, gives float32; a 0-D
// operand takes the other's dtype. Other mixes throw.
DType result_type(const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- reductions: over `dims` (empty = all), optionally keeping them as size 1 ----
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);  // int64
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ----
// (…, M, K) @ (…, K, N) with broadcast batch dims; 1-D operands as in torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
// torch.nn.functional.linear: x (…, in) @ w (out, in)^T + b (out).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---- shape and data movement (copies; reshape/slice views live on Tensor) ----
Tensor reshape(const Tensor& x, const Shape& s);
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor cast(const Tensor& x, DType dt);       // differentiable dtype conversion
Tensor to_device(const Tensor& x, Device d);  // differentiable device transfer

// ---- neural network functions, NHWC ----
// x (N, H, W, C), w (O, KH, KW, C/groups), b (O) or undefined -> (N, OH, OW, O)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(),
              const Conv2dOptions& o = {});
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o);
Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size);
// x (N, H, W, C) or (N, C); running stats (C) may be undefined (then training statistics are
// always used, as track_running_stats=False).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  Tensor running_mean, Tensor running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5);
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
Tensor dropout(const Tensor& x, double p, bool training, Generator& g = default_generator());
// Fused log-softmax + NLL: logits (N, C), target (N) int64 class indices.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& o = {}, const Tensor& class_weight = Tensor());

// Output extent of a convolution/pooling window along one axis (PyTorch's formula).
int64_t conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation,
                      bool ceil_mode = false);

}  // namespace whet
