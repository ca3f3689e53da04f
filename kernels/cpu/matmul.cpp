// GEMM through Eigen (multi-threaded with OpenMP), the engine under matmul and convolution.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 sees uninitialised values in Eigen's AVX-512 double-precision packets
// (_mm512_extractf64x4_pd, inlined from a system header): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>

#include "kernels/cpu/kernels.h"

namespace whet::cpu {

namespace {
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using Map = Eigen::Map<RowMat<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  Map<T> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == T(0)) C.setZero(); else C *= beta;
    return;
  }
  // Stored shapes: A is (m, k), or (k, m) when transposed; B likewise.
  ConstMap<T> A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstMap<T> B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  auto product = [&](const auto& opa, const auto& opb) {
    if (beta == T(0)) {
      C.noalias() = alpha * (opa * opb);
    } else {
      if (beta != T(1)) C *= beta;
      C.noalias() += alpha * (opa * opb);  // accumulates without a temporary product
    }
  };
  if (!trans_a && !trans_b) product(A, B);
  else if (trans_a && !trans_b) product(A.transpose(), B);
  else if (!trans_a && trans_b) product(A, B.transpose());
  else product(A.transpose(), B.transpose());
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                           const double*, int64_t, double, double*, int64_t);

void matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out) {
  // a (Ba, M, K) or (Ba, K, M) if trans_a; b (Bb, K, N) or (Bb, N, K); out (B, M, N)
  int64_t batch = out.size(0), m = out.size(1), n = out.size(2);
  int64_t k = trans_a ? a.size(1) : a.size(2);
  int64_t a_step = a.size(0) == 1 ? 0 : a.size(1) * a.size(2);
  int64_t b_step = b.size(0) == 1 ? 0 : b.size(1) * b.size(2);
  dispatch_float(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < batch; ++i) {
      gemm<T>(trans_a, trans_b, m, n, k, T(1), pa + i * a_step, a.size(2), pb + i * b_step,
              b.size(2), T(0), po + i * m * n, n);
    }
  });
}

}  // namespace whet::cpu
