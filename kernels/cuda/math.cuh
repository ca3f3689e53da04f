// Device math overloaded on float and double, so an op written once as a template over its
// compute type calls expf for float and exp for double (never a silent promotion). min/max
// follow std::min/std::max exactly, NaN behaviour included, as the CPU kernels use those.
#pragma once
#include <cuda_runtime.h>

namespace whet::cuda::dm {

__device__ __forceinline__ float exp(float v) { return ::expf(v); }
__device__ __forceinline__ double exp(double v) { return ::exp(v); }
__device__ __forceinline__ float log(float v) { return ::logf(v); }
__device__ __forceinline__ double log(double v) { return ::log(v); }
__device__ __forceinline__ float sqrt(float v) { return ::sqrtf(v); }
__device__ __forceinline__ double sqrt(double v) { return ::sqrt(v); }
__device__ __forceinline__ float sin(float v) { return ::sinf(v); }
__device__ __forceinline__ double sin(double v) { return ::sin(v); }
__device__ __forceinline__ float cos(float v) { return ::cosf(v); }
__device__ __forceinline__ double cos(double v) { return ::cos(v); }
__device__ __forceinline__ float tanh(float v) { return ::tanhf(v); }
__device__ __forceinline__ double tanh(double v) { return ::tanh(v); }
__device__ __forceinline__ float erf(float v) { return ::erff(v); }
__device__ __forceinline__ double erf(double v) { return ::erf(v); }
__device__ __forceinline__ float abs(float v) { return ::fabsf(v); }
__device__ __forceinline__ double abs(double v) { return ::fabs(v); }

template <class T>
__device__ __forceinline__ T max(T a, T b) {
  return a < b ? b : a;
}  // std::max
template <class T>
__device__ __forceinline__ T min(T a, T b) {
  return b < a ? b : a;
}  // std::min

}  // namespace whet::cuda::dm
