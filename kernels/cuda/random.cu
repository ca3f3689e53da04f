#include "kernels/cuda/random.cuh"

#include "core/rng.h"
#include "kernels/cuda/common.cuh"

namespace whet::cuda {

// The CPU formulas (kernels/cpu/memory.cpp) in double, with mul_rn/add_rn so that nvcc's fma
// contraction cannot change a rounding. Uniform and randint then match bit for bit; normal
// can differ in the last bit of a double where CUDA's log/cos round differently from libm.
// out (n)
template <class T>
static __global__ void random_kernel(T* __restrict__ out, int64_t n, RandomKind kind, double a,
                                     double b, uint64_t range, uint64_t seed, uint64_t offset) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    Philox4 r = philox4x32_10(seed, offset + uint64_t(i));
    double v;
    switch (kind) {
      case RandomKind::uniform:
        v = add_rn(a, mul_rn(b - a, philox_uniform(r)));
        break;
      case RandomKind::normal:
        v = add_rn(a, mul_rn(b, philox_normal(r)));
        break;
      default:
        v = double(int64_t(a) + int64_t(philox_below(r, range)));
        break;
    }
    out[i] = cast_to<T>(v);
  }
}

// mask (n)
template <class T>
static __global__ void dropout_mask_kernel(T* __restrict__ mask, int64_t n, double p, T keep,
                                           uint64_t seed, uint64_t offset) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    Philox4 r = philox4x32_10(seed, offset + uint64_t(i));
    mask[i] = philox_uniform(r) >= p ? keep : cast_to<T>(0.0f);
  }
}

template <class T>
static void launch_random(T* out, int64_t n, RandomKind kind, double a, double b, uint64_t seed,
                          uint64_t offset, const Context& ctx) {
  auto range = uint64_t(int64_t(b) - int64_t(a));
  random_kernel<T>
      <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(out, n, kind, a, b, range, seed, offset);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T>
static void launch_dropout_mask(T* mask, int64_t n, double p, T keep, uint64_t seed,
                                uint64_t offset, const Context& ctx) {
  dropout_mask_kernel<T>
      <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(mask, n, p, keep, seed, offset);
  WHET_CUDA_LAUNCH_CHECK();
}

void random(Tensor& out, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset) {
  int64_t n = out.numel();
  if (n == 0) return;
  WHET_CHECK(kind != RandomKind::randint || int64_t(b) > int64_t(a), "randint: empty range [", a,
             ", ", b, ")");
  int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch<DTypeSet::numeric>(out.dtype(), "random", [&](auto tag) {
    using T = device_t<typename decltype(tag)::type>;
    launch_random(static_cast<T*>(out.raw_data()), n, kind, a, b, seed, offset, ctx);
  });
}

void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) {
  int64_t n = mask.numel();
  if (n == 0) return;
  int dev = mask.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  dispatch<DTypeSet::floating>(mask.dtype(), "dropout", [&](auto tag) {
    using H = typename decltype(tag)::type;
    using T = device_t<H>;
    H keep = cast_value<H>(1.0 / (1.0 - p));  // the CPU's T(1 / (1 - p))
    launch_dropout_mask(static_cast<T*>(mask.raw_data()), n, p, bit_copy<T>(keep), seed, offset,
                        ctx);
  });
}

}  // namespace whet::cuda
