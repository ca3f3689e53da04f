#include "kernels/cuda/copy.cuh"

#include "core/backend.h"
#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pinned.cuh"

namespace whet::cuda {

// (n) -> (n)
template <class S, class D>
static __global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n,
                                      bool vec) {
  constexpr int N = vec_width<S, D>();
  grid_stride<N>(
      n, vec,
      [&](int64_t i) {
        Vec<S, N> a = load_vec<N>(src, i);
        Vec<D, N> b;
#pragma unroll
        for (int j = 0; j < N; ++j) b.v[j] = cast_to<D>(a.v[j]);
        store_vec<N>(dst, i, b);
      },
      [&](int64_t i) { dst[i] = cast_to<D>(src[i]); });
}

template <class S, class D>
static void launch_convert(const S* src, D* dst, int64_t n, const Context& ctx) {
  constexpr int N = vec_width<S, D>();
  bool vec = is_aligned(src, N * sizeof(S)) && is_aligned(dst, N * sizeof(D));
  convert_kernel<S, D>
      <<<grid_for(vec ? n / N : n, ctx), kThreads, 0, ctx.stream()>>>(src, dst, n, vec);
  WHET_CUDA_LAUNCH_CHECK();
}

void convert(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n,
             Context& ctx) {
  if (n == 0) return;
  if (src_dtype == dst_dtype) {
    if (src != dst)
      WHET_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * dtype_size(src_dtype),
                                      cudaMemcpyDeviceToDevice, ctx.stream()));
    return;
  }
  dispatch(src_dtype, "copy", [&](auto st) {
    using S = device_t<typename decltype(st)::type>;
    dispatch(dst_dtype, "copy", [&](auto dt) {
      using D = device_t<typename decltype(dt)::type>;
      launch_convert(static_cast<const S*>(src), static_cast<D*>(dst), n, ctx);
    });
  });
}

void copy(const Tensor& src, Tensor& dst) {
  WHET_CHECK(src.numel() == dst.numel(), "copy: ", src.numel(), " elements into ", dst.numel());
  Device sd = src.device(), dd = dst.device();
  if (sd.is_cpu() && dd.is_cpu()) return cpu_backend().copy(src, dst);
  int64_t n = src.numel();
  if (n == 0) return;
  DType st = src.dtype(), dt = dst.dtype();

  if (sd.is_cpu()) {  // host -> device: move the raw bytes, convert on the device
    DeviceGuard guard(dd.index);
    Context& ctx = Context::get(dd.index);
    // Pinned memory (core/pinned.h) is read by DMA directly and the call returns at once;
    // pageable memory goes through the context's staging buffers.
    auto upload = [&](void* to) {
      if (is_pinned(src.raw_data()))
        WHET_CUDA_CHECK(cudaMemcpyAsync(to, src.raw_data(), src.nbytes(), cudaMemcpyHostToDevice,
                                        ctx.stream()));
      else
        ctx.h2d(to, src.raw_data(), src.nbytes());
    };
    if (st == dt) return upload(dst.raw_data());
    DeviceBuffer tmp(src.nbytes(), dd.index);
    upload(tmp.get());
    return convert(tmp.get(), st, dst.raw_data(), dt, n, ctx);
  }
  if (dd.is_cpu()) {  // device -> host: convert on the device, then stage back
    DeviceGuard guard(sd.index);
    Context& ctx = Context::get(sd.index);
    if (st == dt) return ctx.d2h(dst.raw_data(), src.raw_data(), src.nbytes());
    DeviceBuffer tmp(dst.nbytes(), sd.index);
    convert(src.raw_data(), st, tmp.get(), dt, n, ctx);
    return ctx.d2h(dst.raw_data(), tmp.get(), dst.nbytes());
  }
  if (sd == dd) {
    DeviceGuard guard(dd.index);
    return convert(src.raw_data(), st, dst.raw_data(), dt, n, Context::get(dd.index));
  }
  // Between devices: wait for the source's producers, copy peer to peer onto the destination's
  // stream, convert there, and wait, so neither side's allocator can reuse a block in flight.
  Context& sctx = Context::get(sd.index);
  Context& dctx = Context::get(dd.index);
  sctx.synchronize();
  DeviceGuard guard(dd.index);
  if (st == dt) {
    WHET_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), dd.index, src.raw_data(), sd.index,
                                        src.nbytes(), dctx.stream()));
  } else {
    DeviceBuffer tmp(src.nbytes(), dd.index);
    WHET_CUDA_CHECK(cudaMemcpyPeerAsync(tmp.get(), dd.index, src.raw_data(), sd.index, src.nbytes(),
                                        dctx.stream()));
    convert(tmp.get(), st, dst.raw_data(), dt, n, dctx);
  }
  dctx.synchronize();
}

}  // namespace whet::cuda
