#include "kernels/cuda/matmul.cuh"

#include <climits>

#include "core/math_mode.h"

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fill.cuh"

namespace whet::cuda {

namespace {
struct GemmTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
  bool double_scalars;  // alpha/beta as double (f64) or float (everything else)
};

GemmTypes gemm_types(DType t) {
  switch (t) {
    case DType::f32:
      return {CUDA_R_32F, allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, false};
    case DType::f64:
      return {CUDA_R_64F, CUBLAS_COMPUTE_64F, true};
    case DType::f16:
      return {CUDA_R_16F, CUBLAS_COMPUTE_32F, false};
    case DType::bf16:
      return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, false};
    default:
      break;
  }
  WHET_FAIL("matmul: dtype ", dtype_name(t), " is not supported on CUDA (floating types only)");
}

// The batch extent of a (B, R, C) operand (the product of its leading dims), 1 for a matrix.
int64_t batch_of(const Tensor& t) {
  int64_t b = 1;
  for (int64_t d = 0; d + 2 < t.dim(); ++d) b *= t.size(d);
  return b;
}
}  // namespace

void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out) {
  WHET_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "matmul: dtype mismatch (",
             dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " -> ", dtype_name(out.dtype()),
             ")");
  WHET_CHECK(a.dim() >= 2 && b.dim() >= 2 && out.dim() >= 2,
             "matmul: operands must be at least 2-D");
  int64_t m = out.size(-2), n = out.size(-1);
  int64_t k = trans_a ? a.size(-2) : a.size(-1);
  int64_t k_b = trans_b ? b.size(-1) : b.size(-2);
  WHET_CHECK(k == k_b && (trans_a ? a.size(-1) : a.size(-2)) == m &&
                 (trans_b ? b.size(-2) : b.size(-1)) == n,
             "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
             " do not give ", shape_str(out.shape()));
  int64_t batch = batch_of(out);
  int64_t ba = batch_of(a), bb = batch_of(b);
  WHET_CHECK((ba == batch || ba == 1) && (bb == batch || bb == 1), "matmul: batch extents ", ba,
             " and ", bb, " do not broadcast to ", batch);
  if (out.numel() == 0) return;
  if (k == 0) return fill(out, 0.0);
  WHET_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && batch <= INT_MAX,
             "matmul: extents beyond cuBLAS's int range");

  int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  GemmTypes ty = gemm_types(a.dtype());
  // cuBLAS is column-major: a row-major (R, C) matrix is its (C, R) transpose there. So
  // out^T (N, M) = op(b)^T (N, K) @ op(a)^T (K, M): b goes first, and each leading dimension
  // is the stored row length.
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  int lda = int(trans_a ? m : k), ldb = int(trans_b ? k : n), ldc = int(n);
  long long stride_a = ba == 1 ? 0 : m * k, stride_b = bb == 1 ? 0 : k * n, stride_c = m * n;
  float alpha_f = 1.0f, beta_f = 0.0f;
  double alpha_d = 1.0, beta_d = 0.0;
  const void* alpha = ty.double_scalars ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta = ty.double_scalars ? static_cast<const void*>(&beta_d) : &beta_f;
  WHET_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      ctx.cublas(), op_b, op_a, int(n), int(m), int(k), alpha, b.raw_data(), ty.data, ldb, stride_b,
      a.raw_data(), ty.data, lda, stride_a, beta, out.raw_data(), ty.data, ldc, stride_c,
      int(batch), ty.compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace whet::cuda
