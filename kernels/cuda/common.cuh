// Device-side building blocks shared by the kernel files (included by .cu files only):
// storage types as CUDA sees them, the conversion rule every kernel uses, 16-byte vectors,
// grid-stride indexing and launch sizing.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/dtype.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/context.cuh"

namespace whet::cuda {

// The type a kernel sees for each storage type: whet::Half/BFloat16 are bit-compatible with
// __half/__nv_bfloat16 (core/half.h), so buffers are reinterpreted, never converted.
template <class T>
struct DeviceTypeOf {
  using type = T;
};
template <>
struct DeviceTypeOf<Half> {
  using type = __half;
};
template <>
struct DeviceTypeOf<BFloat16> {
  using type = __nv_bfloat16;
};
template <class T>
using device_t = typename DeviceTypeOf<T>::type;

template <class T>
constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Arithmetic type for elementwise floating math: half types compute in float (as the CPU
// kernels do), float and double in themselves.
template <class T>
struct ComputeTypeOf {
  using type = T;
};
template <>
struct ComputeTypeOf<__half> {
  using type = float;
};
template <>
struct ComputeTypeOf<__nv_bfloat16> {
  using type = float;
};
template <class T>
using compute_t = typename ComputeTypeOf<T>::type;

template <class T>
__device__ __forceinline__ float half_to_float(T v) {
  if constexpr (std::is_same_v<T, __half>)
    return __half2float(v);
  else
    return __bfloat162float(v);
}

// The device twin of whet::cast_value (core/dtype.h), element for element: half types go
// through float in both directions, and bool is "not zero".
template <class D, class S>
__device__ __forceinline__ D cast_to(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (is_half_v<S>) {
    return cast_to<D>(half_to_float(v));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (std::is_same_v<D, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<D, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<D>(v);
  }
}

// N consecutive elements moved as one (up to 16-byte) load or store.
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// Elements per vector so that the wider of the types moves 16 bytes.
template <class... Ts>
constexpr int vec_width() {
  size_t widest = 1;
  ((widest = sizeof(Ts) > widest ? sizeof(Ts) : widest), ...);
  return int(16 / widest);
}

// The same bits seen as another type of the same size (host side).
template <class D, class S>
D bit_copy(const S& s) {
  static_assert(sizeof(D) == sizeof(S));
  D d;
  std::memcpy(static_cast<void*>(&d), static_cast<const void*>(&s), sizeof(D));
  return d;
}

inline bool is_aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

__device__ __forceinline__ int64_t thread_index() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_count() { return int64_t(gridDim.x) * blockDim.x; }

template <int N, class T>
__device__ __forceinline__ Vec<T, N> load_vec(const T* p, int64_t i) {
  return reinterpret_cast<const Vec<T, N>*>(p)[i];
}
template <int N, class T>
__device__ __forceinline__ void store_vec(T* p, int64_t i, const Vec<T, N>& v) {
  reinterpret_cast<Vec<T, N>*>(p)[i] = v;
}

// The grid-stride loop every elementwise kernel runs: with `vec`, each step handles N
// consecutive elements through on_vec(vector index) and the remainder through on_one(i);
// otherwise every element goes through on_one.
template <int N, class OnVec, class OnOne>
__device__ __forceinline__ void grid_stride(int64_t n, bool vec, OnVec on_vec, OnOne on_one) {
  int64_t start = 0;
  if (vec) {
    int64_t nv = n / N;
    for (int64_t i = thread_index(); i < nv; i += thread_count()) on_vec(i);
    start = nv * N;
  }
  for (int64_t i = start + thread_index(); i < n; i += thread_count()) on_one(i);
}

// Arithmetic that nvcc may not contract into fma, for kernels whose results must equal the
// CPU's bit for bit (random draws, arange, affine).
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// dispatch() over the floating dtypes only: unlike dispatch<DTypeSet::floating>, it does not
// instantiate `f` for the other types, so float-only math need not compile for integers.
// Calls f(TypeTag<T>) with T the device type (float, double, __half, __nv_bfloat16).
template <class F>
void dispatch_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32:
      return f(TypeTag<float>{});
    case DType::f64:
      return f(TypeTag<double>{});
    case DType::f16:
      return f(TypeTag<__half>{});
    case DType::bf16:
      return f(TypeTag<__nv_bfloat16>{});
    default:
      break;
  }
  WHET_FAIL(op, ": dtype ", dtype_name(t), " is not supported (floating types only)");
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over `items` work items: enough to fill the device a few
// times over, never more than the work needs.
int grid_for(int64_t items, const Context& ctx);

}  // namespace whet::cuda
