#include "kernels/cuda/fill.cuh"

#include "kernels/cuda/common.cuh"

namespace whet::cuda {

// Fill works on the element's bits (1, 2, 4 or 8 bytes): four kernels serve all eight dtypes.
// out (n)
template <class U>
static __global__ void fill_kernel(U* __restrict__ out, U bits, int64_t n, bool vec) {
  constexpr int N = vec_width<U>();
  Vec<U, N> pattern;
#pragma unroll
  for (int j = 0; j < N; ++j) pattern.v[j] = bits;
  grid_stride<N>(
      n, vec, [&](int64_t i) { store_vec<N>(out, i, pattern); }, [&](int64_t i) { out[i] = bits; });
}

template <class U>
static void launch_fill(void* out, U bits, int64_t n, const Context& ctx) {
  constexpr int N = vec_width<U>();
  bool vec = is_aligned(out, 16);
  fill_kernel<U><<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(
      static_cast<U*>(out), bits, n, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

// out (n)
template <class T>
static __global__ void arange_kernel(T* __restrict__ out, double start, double step, int64_t n) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = cast_to<T>(add_rn(start, mul_rn(double(i), step)));
}

template <class T>
static void launch_arange(T* out, double start, double step, int64_t n, const Context& ctx) {
  arange_kernel<T><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(out, start, step, n);
  WHET_CUDA_LAUNCH_CHECK();
}

void fill(Tensor& out, double value) {
  int64_t n = out.numel();
  if (n == 0) return;
  int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch(out.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = cast_value<T>(value);  // converted on the host exactly as the CPU kernel does
    void* p = out.raw_data();
    if constexpr (sizeof(T) == 1) launch_fill(p, bit_copy<uint8_t>(v), n, ctx);
    if constexpr (sizeof(T) == 2) launch_fill(p, bit_copy<uint16_t>(v), n, ctx);
    if constexpr (sizeof(T) == 4) launch_fill(p, bit_copy<uint32_t>(v), n, ctx);
    if constexpr (sizeof(T) == 8) launch_fill(p, bit_copy<uint64_t>(v), n, ctx);
  });
}

void arange(Tensor& out, double start, double step) {
  int64_t n = out.numel();
  if (n == 0) return;
  int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch<DTypeSet::numeric>(out.dtype(), "arange", [&](auto tag) {
    using T = device_t<typename decltype(tag)::type>;
    launch_arange(static_cast<T*>(out.raw_data()), start, step, n, ctx);
  });
}

}  // namespace whet::cuda
