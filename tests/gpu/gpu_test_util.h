// Helpers shared by the GPU suites: moving tensors, poisoned outputs, fresh random inputs and
// comparisons that name the worst element. The CPU kernels are the reference throughout.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"

namespace whet::gputest {

inline const Backend& gpu() { return *cuda_backend(); }
inline const Backend& cpu() { return cpu_backend(); }
inline Device dev() { return Device::cuda(0); }

// Sizes every elementwise kernel is checked at: single, odd, around vector widths, large.
inline const std::vector<int64_t>& sizes() {
  static const std::vector<int64_t> s = {1, 7, 1023, 4097, (int64_t(1) << 20) + 3};
  return s;
}

inline const DType kAllDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                   DType::i32, DType::i64, DType::u8,  DType::boolean};
inline const DType kFloatDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16};

// A device tensor whose bytes are garbage the kernel must overwrite: NaN for floating types,
// 0xA5 bytes for integers, 0xFF (neither true nor false) for bool.
Tensor poisoned(const Shape& s, DType dt);
// Copies through the CUDA backend's copy slot.
Tensor to_gpu(const Tensor& host);
Tensor to_host(const Tensor& device_tensor);
// CPU tensor converted to dt by the CPU copy kernel.
Tensor cast_cpu(const Tensor& host, DType dt);
// Fresh CPU values: uniform [lo, hi) drawn in float64, then converted to dt.
Tensor uniform_cpu(const Shape& s, DType dt, double lo, double hi, uint64_t seed);
// Fresh CPU integers in [lo, hi), converted to dt.
Tensor randint_cpu(const Shape& s, DType dt, int64_t lo, int64_t hi, uint64_t seed);
// A length-n 1-D device view starting one element into its storage, so that no pointer is
// 16-byte aligned and the kernels' scalar paths run.
Tensor misaligned_gpu(const Tensor& host);

std::vector<double> values(const Tensor& t);  // any device, as double

// Tolerances of ARCHITECTURE.md (torch.testing.assert_close); float64 has none listed, ours is
// far below any real error and above libm-vs-CUDA last-bit differences.
struct Tol {
  double rtol, atol;
};
Tol tolerance(DType dt);

// Empty on success; else how many elements differ and the worst one. NaN in `actual` always
// fails (poison); an exact comparison (rtol = atol = 0) also compares bit patterns of
// doubles, so -0 vs +0 passes but NaN never does.
std::string mismatch(const std::vector<double>& actual, const std::vector<double>& expected,
                     Tol tol);

// CHECK that a device result matches the host reference, labelled with `what`. The tolerance
// is the trailing argument (variadic so that a braced Tol{...} may be written in place).
#define WHET_CHECK_CLOSE(what, actual, expected, ...)                                   \
  do {                                                                                  \
    std::string whet_m_ = ::whet::gputest::mismatch(::whet::gputest::values(actual),    \
                                                    ::whet::gputest::values(expected),  \
                                                    ::whet::gputest::Tol(__VA_ARGS__)); \
    CHECK_MESSAGE(whet_m_.empty(), (what) << ": " << whet_m_);                          \
  } while (0)

}  // namespace whet::gputest
