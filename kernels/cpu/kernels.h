// CPU reference kernels (Eigen + OpenMP). Each is the reference its CUDA twin is tested
// against; signatures and conventions are those of the Backend slots in core/backend.h.
// Arithmetic kernels compute float32 and float64; the table wraps them with with_half
// (half_adapter.h) for float16 and bfloat16. Every kernel writes all of its outputs without
// reading them first (batch_norm's running statistics aside, which the table names).
#pragma once
#include <cstdint>
#include <vector>

#include "core/backend.h"

namespace whet::cpu {

// memory.cpp
void* allocate(size_t nbytes, int device);
void deallocate(void* p, size_t nbytes, int device);
void copy(const Tensor& src, Tensor& dst);
void synchronize(int device);
void fill(Tensor& out, double value);
void arange(Tensor& out, double start, double step);
void random(Tensor& out, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset);
void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset);

// elementwise.cpp
void unary(UnaryOp op, const Tensor& x, Tensor& y);
void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
void affine(const Tensor& x, double scale, double shift, Tensor& out);

// reduce.cpp
void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out);

// movement.cpp
void permute(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out);
void copy_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out, int64_t out_inner,
                int64_t col);
void extract_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                   int64_t out_inner, int64_t col);

// matmul.cpp
void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out);
// Row-major C (m, n) = alpha * op(A) @ op(B) + beta * C, the GEMM every CPU kernel shares.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// conv.cpp
void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
            Tensor& y);
void conv2d_backward_input(const Tensor& gy, const Tensor& w, const Conv2dOptions& o,
                           Tensor& gx);
void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Conv2dOptions& o,
                            Tensor& gw);

// pool.cpp
void max_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y, Tensor& indices);
void max_pool2d_backward(const Tensor& gy, const Tensor& indices, Tensor& gx);
void avg_pool2d(const Tensor& x, const Pool2dOptions& o, Tensor& y);
void avg_pool2d_backward(const Tensor& gy, const Pool2dOptions& o, Tensor& gx);
void adaptive_avg_pool2d(const Tensor& x, Tensor& y);
void adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx);

// batchnorm.cpp
void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                Tensor& running_var, bool training, double momentum, double eps, Tensor& y,
                Tensor& save_mean, Tensor& save_invstd);
void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         Tensor& gx, Tensor& gw, Tensor& gb);

// optim_step.cpp
void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, bool first_step,
              const SgdStepOptions& o, const Tensor& found_inf);
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
               Tensor& max_exp_avg_sq, Tensor& step, const AdamStepOptions& o,
               const Tensor& found_inf);
void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                  Tensor& momentum_buffer, Tensor& step, const RmspropStepOptions& o,
                  const Tensor& found_inf);
void amp_unscale(Tensor& grad, const Tensor& scale, Tensor& found_inf);
void amp_update_scale(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval);

// softmax.cpp
void softmax(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& y);
void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d,
                      int64_t inner, bool log, Tensor& gx);
void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                   const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum,
                   Tensor& lse);
void cross_entropy_backward(const Tensor& logits, const Tensor& target,
                            const Tensor& class_weight, const CrossEntropyOptions& o,
                            const Tensor& lse, const Tensor& glosses, Tensor& glogits);

}  // namespace whet::cpu
