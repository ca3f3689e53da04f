// Data movement, the CUDA twins of kernels/cpu/movement.cpp. Elements move as raw units of
// 1, 2, 4, 8 or 16 bytes: only the dtype's size matters, and a wider unit is used wherever
// every row, stride and pointer allows it (a float row copy then moves float4s).
#include "kernels/cuda/movement.cuh"

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace whet::cuda {

namespace {

using U16 = Vec<uint32_t, 4>;  // a 16-byte unit

// After extents of 1 are dropped every dim is at least 2, and 2^63 elements overflow int64:
// no tensor needs more dims than this.
constexpr int kMaxPermuteDims = 64;

// out's dims (outermost first) and x's step for a unit step along each, in units.
struct GatherDims {
  int n;
  int64_t size[kMaxPermuteDims];
  int64_t in_stride[kMaxPermuteDims];
};

// A permutation that moves x's innermost dim (b) away from out's innermost (a), seen as a
// batch of (b, a) -> (a, b) transposes: the remaining dims index the batch.
struct TileDims {
  int nb;
  int64_t size[kMaxPermuteDims];  // batch dims
  int64_t in_stride[kMaxPermuteDims];
  int64_t out_stride[kMaxPermuteDims];
  int64_t a, a_in_stride;   // out's innermost dim: contiguous in out
  int64_t b, b_out_stride;  // x's innermost dim: contiguous in x
};

constexpr int kTile = 32;
constexpr int kTileRows = kThreads / kTile;  // block (kTile, kTileRows)

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The widest unit (bytes, at most 16, at least es) dividing every byte count and address.
int unit_bytes(size_t es, const std::vector<uint64_t>& values) {
  int u = 16;
  auto fits = [&] {
    for (uint64_t v : values)
      if (v % uint64_t(u)) return false;
    return true;
  };
  while (size_t(u) > es && !fits()) u /= 2;
  return u;
}

// Calls f(U{}) for the unsigned type (or 16-byte vector) of `bytes`.
template <class F>
void with_unit(int bytes, F&& f) {
  // clang-format off
  switch (bytes) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    case 16: return f(U16{});
  }
  // clang-format on
  WHET_FAIL("movement: no unit of ", bytes, " bytes");
}

}  // namespace

// out (n units) gathered from x through g: 32-bit index math when the sizes allow.
template <class U, class I>
static __global__ void permute_gather_kernel(const U* __restrict__ x, U* __restrict__ out,
                                             int64_t n, GatherDims g) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    I rem = I(i), off = 0;
    for (int d = g.n - 1; d >= 0; --d) {
      const I s = I(g.size[d]);
      off += (rem % s) * I(g.in_stride[d]);
      rem /= s;
    }
    out[i] = x[off];
  }
}

// One (kTile x kTile) tile per step: read along b (x's contiguous dim) into shared memory,
// write along a (out's contiguous dim), so both sides are coalesced.
template <class U>
static __global__ void permute_tiled_kernel(const U* __restrict__ x, U* __restrict__ out,
                                            TileDims g) {
  __shared__ U tile[kTile][kTile + 1];  // +1: column reads hit distinct banks
  const int64_t ta = ceil_div(g.a, kTile), tb = ceil_div(g.b, kTile);
  int64_t batch = 1;
  for (int d = 0; d < g.nb; ++d) batch *= g.size[d];
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t t = blockIdx.x; t < ta * tb * batch; t += gridDim.x) {
    int64_t rest = t / ta, bi = rest / tb, xo = 0, oo = 0;
    const int64_t a0 = (t % ta) * kTile, b0 = (rest % tb) * kTile;
    for (int d = g.nb - 1; d >= 0; --d) {
      const int64_t c = bi % g.size[d];
      bi /= g.size[d];
      xo += c * g.in_stride[d];
      oo += c * g.out_stride[d];
    }
    for (int i = ty; i < kTile; i += kTileRows) {
      const int64_t a = a0 + i, b = b0 + tx;
      if (a < g.a && b < g.b) tile[i][tx] = x[xo + a * g.a_in_stride + b];
    }
    __syncthreads();
    for (int i = ty; i < kTile; i += kTileRows) {
      const int64_t a = a0 + tx, b = b0 + i;
      if (a < g.a && b < g.b) out[oo + b * g.b_out_stride + a] = tile[tx][i];
    }
    __syncthreads();  // the tile is refilled by the next step
  }
}

// dst (rows, dst_pitch) columns [0, width) = src (rows, src_pitch) columns [0, width), in
// units; both pointers already sit at the block's first column.
template <class U, class I>
static __global__ void copy_rows_kernel(const U* __restrict__ src, int64_t src_pitch,
                                        U* __restrict__ dst, int64_t dst_pitch, int64_t rows,
                                        int64_t width) {
  const int64_t n = rows * width;
  for (int64_t e = thread_index(); e < n; e += thread_count()) {
    const I row = I(e) / I(width), col = I(e) - row * I(width);
    dst[row * I(dst_pitch) + col] = src[row * I(src_pitch) + col];
  }
}

template <class U>
static void launch_gather(const void* x, void* out, int64_t n, const GatherDims& g,
                          const Context& ctx) {
  const U* px = static_cast<const U*>(x);
  U* po = static_cast<U*>(out);
  if (n <= int64_t(UINT32_MAX)) {
    permute_gather_kernel<U, uint32_t>
        <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(px, po, n, g);
  } else {
    permute_gather_kernel<U, int64_t>
        <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(px, po, n, g);
  }
  WHET_CUDA_LAUNCH_CHECK();
}

template <class U>
static void launch_tiled(const void* x, void* out, const TileDims& g, int64_t tiles,
                         const Context& ctx) {
  const int grid = int(std::min<int64_t>(tiles, int64_t(ctx.sm_count()) * 16));
  permute_tiled_kernel<U><<<grid, dim3(kTile, kTileRows), 0, ctx.stream()>>>(
      static_cast<const U*>(x), static_cast<U*>(out), g);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class U>
static void launch_copy_rows(const void* src, int64_t src_pitch, void* dst, int64_t dst_pitch,
                             int64_t rows, int64_t width, const Context& ctx) {
  const U* ps = static_cast<const U*>(src);
  U* pd = static_cast<U*>(dst);
  const int64_t n = rows * width, span = rows * std::max(src_pitch, dst_pitch);
  if (span <= int64_t(UINT32_MAX)) {
    copy_rows_kernel<U, uint32_t><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(
        ps, src_pitch, pd, dst_pitch, rows, width);
  } else {
    copy_rows_kernel<U, int64_t><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(
        ps, src_pitch, pd, dst_pitch, rows, width);
  }
  WHET_CUDA_LAUNCH_CHECK();
}

void permute(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out) {
  const Shape &xs = x.shape(), &os = out.shape();
  const size_t rank = xs.size();
  WHET_CHECK(perm.size() == rank && os.size() == rank && x.dtype() == out.dtype(), "permute: x ",
             shape_str(xs), " ", dtype_name(x.dtype()), ", out ", shape_str(os), " ",
             dtype_name(out.dtype()), ", ", perm.size(), " dims in the permutation");
  std::vector<bool> seen(rank, false);
  for (size_t k = 0; k < rank; ++k) {
    const int64_t p = perm[k];
    WHET_CHECK(p >= 0 && p < int64_t(rank) && !seen[size_t(p)] && os[k] == xs[size_t(p)],
               "permute: out ", shape_str(os), " is not x ", shape_str(xs), " permuted (dim ", k,
               " takes ", p, ")");
    seen[size_t(p)] = true;
  }
  const int64_t n = out.numel();
  if (n == 0) return;
  const size_t es = dtype_size(x.dtype());
  std::vector<int64_t> xstride(rank, 1);
  for (size_t d = rank; d-- > 1;) xstride[d - 1] = xstride[d] * xs[d];
  // out's dims innermost first, extents of 1 dropped, and a dim merged into the one inside
  // it when x steps through the two contiguously too.
  std::vector<int64_t> size, stride;
  for (size_t k = rank; k-- > 0;) {
    if (os[k] == 1) continue;
    const int64_t st = xstride[size_t(perm[k])];
    if (!size.empty() && st == stride.back() * size.back()) {
      size.back() *= os[k];
    } else {
      size.push_back(os[k]);
      stride.push_back(st);
    }
  }
  WHET_CHECK(size.size() <= size_t(kMaxPermuteDims), "permute: ", size.size(),
             " dims after merging ", shape_str(xs));
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  const void* px = x.raw_data();
  void* po = out.raw_data();
  if (size.size() <= 1) {  // the order is unchanged: one copy
    WHET_CUDA_CHECK(
        cudaMemcpyAsync(po, px, size_t(n) * es, cudaMemcpyDeviceToDevice, ctx.stream()));
    return;
  }
  const int nd = int(size.size());
  const size_t b = size_t(std::find(stride.begin(), stride.end(), 1) - stride.begin());
  if (b > 0 && b < size.size() && std::min(size[0], size[b]) >= 16) {
    // x's innermost dim is b, out's is 0: a batch of transposes through shared memory.
    TileDims g{};
    g.a = size[0];
    g.a_in_stride = stride[0];
    g.b = size[b];
    int64_t ostride = 1;
    for (int d = 0; d < nd; ++d) {
      if (d == int(b)) g.b_out_stride = ostride;
      if (d != 0 && d != int(b)) {  // batch dims innermost last
        const int at = nd - 3 - g.nb++;
        g.size[at] = size[size_t(d)];
        g.in_stride[at] = stride[size_t(d)];
        g.out_stride[at] = ostride;
      }
      ostride *= size[size_t(d)];
    }
    const int64_t tiles = ceil_div(g.a, kTile) * ceil_div(g.b, kTile) * (n / (g.a * g.b));
    with_unit(int(es), [&](auto unit) { launch_tiled<decltype(unit)>(px, po, g, tiles, ctx); });
    return;
  }
  // Gather: every out element finds its source. When out's innermost dim is contiguous in x
  // too, its rows move in the widest unit that every row start and length allows.
  int unit = int(es);
  if (stride[0] == 1) {
    std::vector<uint64_t> v = {uint64_t(size[0]) * es, reinterpret_cast<uintptr_t>(px),
                               reinterpret_cast<uintptr_t>(po)};
    for (int d = 1; d < nd; ++d) v.push_back(uint64_t(stride[size_t(d)]) * es);
    unit = unit_bytes(es, v);
  }
  const int64_t widen = unit / int64_t(es);  // 1 unless stride[0] == 1
  GatherDims g{};
  g.n = nd;
  for (int d = 0; d < nd; ++d) {  // back to outermost first, in units
    const size_t k = size_t(nd - 1 - d);
    g.size[d] = k == 0 ? size[0] / widen : size[k];
    g.in_stride[d] = k == 0 ? stride[0] : stride[k] / widen;
  }
  with_unit(unit, [&](auto u) { launch_gather<decltype(u)>(px, po, n / widen, g, ctx); });
}

// Both block copies are one pitched row copy: src/dst offset to the block, `width` elements.
static void block_copy(const char* op, const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                       int64_t out_inner, int64_t col, bool into_out) {
  const int64_t width = into_out ? x_inner : out_inner;
  const int64_t wide = into_out ? out_inner : x_inner;
  WHET_CHECK(x.dtype() == out.dtype(), op, ": dtype mismatch (", dtype_name(x.dtype()), " and ",
             dtype_name(out.dtype()), ")");
  WHET_CHECK(outer >= 0 && x_inner >= 0 && out_inner >= 0 && x.numel() == outer * x_inner &&
                 out.numel() == outer * out_inner,
             op, ": x ", shape_str(x.shape()), " and out ", shape_str(out.shape()), " are not (",
             outer, ", ", x_inner, ") and (", outer, ", ", out_inner, ")");
  WHET_CHECK(col >= 0 && col + width <= wide, op, ": columns [", col, ", ", col + width,
             ") outside a row of ", wide);
  if (outer == 0 || width == 0) return;
  const size_t es = dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.raw_data()) + (into_out ? 0 : size_t(col) * es);
  char* dst = static_cast<char*>(out.raw_data()) + (into_out ? size_t(col) * es : 0);
  const int u =
      unit_bytes(es, {uint64_t(width) * es, uint64_t(x_inner) * es, uint64_t(out_inner) * es,
                      reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(dst)});
  const int64_t k = u / int64_t(es);  // elements per unit
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  with_unit(u, [&](auto unit) {
    launch_copy_rows<decltype(unit)>(src, x_inner / k, dst, out_inner / k, outer, width / k, ctx);
  });
}

void copy_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out, int64_t out_inner,
                int64_t col) {
  block_copy("copy_block", x, outer, x_inner, out, out_inner, col, true);
}

void extract_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out, int64_t out_inner,
                   int64_t col) {
  block_copy("extract_block", x, outer, x_inner, out, out_inner, col, false);
}

}  // namespace whet::cuda
