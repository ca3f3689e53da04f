// The NCHW route of cuDNN convolutions: transposed copies in and out
// (kernels/cuda/conv_staging.cuh).
#ifdef WHET_WITH_CUDNN

#include "kernels/cuda/conv_staging.cuh"

#include "kernels/cuda/common.cuh"

namespace whet::cuda::conv_detail {
namespace {

// out (B, C, R) = in (B, R, C), each batch entry transposed: the NHWC <-> NCHW copies of the
// NCHW route. Elements move as raw bits of their size. Writes are coalesced and reads
// strided; the route serves float64 and fallbacks, where a plain kernel is enough.
template <class T>
__global__ void transpose_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t r,
                                 int64_t c, int64_t total) {
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const int64_t ri = i % r, rest = i / r;
    const int64_t ci = rest % c, bi = rest / c;
    out[i] = in[(bi * r + ri) * c + ci];
  }
}

template <class T>
void launch_transpose(const void* in, void* out, int64_t r, int64_t c, int64_t total,
                      const Context& ctx) {
  transpose_kernel<<<grid_for(total, ctx), kThreads, 0, ctx.stream()>>>(
      static_cast<const T*>(in), static_cast<T*>(out), r, c, total);
  WHET_CUDA_LAUNCH_CHECK();
}

// out (B, C, R) = in (B, R, C) for elements of `elem` bytes.
void batched_transpose(const void* in, void* out, int64_t b, int64_t r, int64_t c, size_t elem,
                       const Context& ctx) {
  const int64_t total = b * r * c;
  if (total == 0) return;
  switch (elem) {
    case 2:
      return launch_transpose<uint16_t>(in, out, r, c, total, ctx);
    case 4:
      return launch_transpose<uint32_t>(in, out, r, c, total, ctx);
    case 8:
      return launch_transpose<uint64_t>(in, out, r, c, total, ctx);
    default:
      break;
  }
  WHET_FAIL("conv2d: no transpose for ", elem, "-byte elements");
}

enum Role { kX, kW, kY };

Role output_role(Direction d) {
  switch (d) {
    case Direction::forward:
      return kY;
    case Direction::backward_data:
      return kX;
    case Direction::backward_filter:
      return kW;
  }
  return kY;
}

void*& slot(Buffers& b, Role r) { return r == kX ? b.x : r == kW ? b.w : b.y; }

// A role's NHWC buffer viewed as (B, S, C), S the spatial extent; its NCHW copy is (B, C, S).
struct Extents {
  int64_t b, s, c;
};
Extents extents(const Problem& p, Role r) {
  switch (r) {
    case kX:
      return {p.n, int64_t(p.h) * p.w, p.c};
    case kW:
      return {p.o, int64_t(p.kh) * p.kw, p.cg};
    case kY:
      break;
  }
  return {p.n, int64_t(p.oh) * p.ow, p.o};
}

}  // namespace

Staging::Staging(const Problem& p, Layout layout, const Buffers& io, const Context& ctx)
    : p_(p), ctx_(ctx), io_(io), staged_(io) {
  if (layout == Layout::nhwc) return;
  const size_t elem = dtype_size(p.dtype);
  const Role out = output_role(p.dir);
  for (Role r : {kX, kW, kY}) {
    const Extents e = extents(p, r);
    temps_[r] = std::make_unique<DeviceBuffer>(size_t(e.b * e.s * e.c) * elem, p.device);
    slot(staged_, r) = temps_[r]->get();
    if (r != out) batched_transpose(slot(io_, r), slot(staged_, r), e.b, e.s, e.c, elem, ctx);
  }
}

void Staging::finish() {
  const Role out = output_role(p_.dir);
  if (!temps_[out]) return;
  const Extents e = extents(p_, out);
  batched_transpose(slot(staged_, out), slot(io_, out), e.b, e.c, e.s, dtype_size(p_.dtype), ctx_);
}

}  // namespace whet::cuda::conv_detail

#endif  // WHET_WITH_CUDNN
