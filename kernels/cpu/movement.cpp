// Data movement: permutation and the block copies behind concat, stack and narrow.
#include <cstring>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

void permute(const Tensor& x, const std::vector<int64_t>& perm, Tensor& out) {
  const Shape& xs = x.shape();
  size_t r = xs.size();
  std::vector<int64_t> xstride(r, 1);
  for (size_t d = r; d-- > 1;) xstride[d - 1] = xstride[d] * xs[d];
  // in_stride[k]: step in x for a unit step along out's dim k.
  std::vector<int64_t> in_stride(r);
  for (size_t k = 0; k < r; ++k) in_stride[k] = xstride[size_t(perm[k])];
  const Shape& os = out.shape();
  int64_t n = out.numel();
  if (n == 0) return;
  int64_t inner = r ? os[r - 1] : 1, rows = n / inner;
  int64_t step = r ? in_stride[r - 1] : 1;
  size_t es = dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  parallel_for(rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t row) {
    int64_t off = 0, rem = row;
    for (size_t d = r - 1; r && d-- > 0;) {
      off += (rem % os[d]) * in_stride[d];
      rem /= os[d];
    }
    char* o = po + size_t(row * inner) * es;
    if (step == 1) {
      std::memcpy(o, px + size_t(off) * es, size_t(inner) * es);
    } else {
      for (int64_t j = 0; j < inner; ++j)
        std::memcpy(o + size_t(j) * es, px + size_t(off + j * step) * es, es);
    }
  });
}

void copy_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out, int64_t out_inner,
                int64_t col) {
  size_t es = dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, x_inner)), [&](int64_t o) {
    std::memcpy(po + size_t(o * out_inner + col) * es, px + size_t(o * x_inner) * es,
                size_t(x_inner) * es);
  });
}

void extract_block(const Tensor& x, int64_t outer, int64_t x_inner, Tensor& out,
                   int64_t out_inner, int64_t col) {
  size_t es = dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_inner)),
               [&](int64_t o) {
    std::memcpy(po + size_t(o * out_inner) * es, px + size_t(o * x_inner + col) * es,
                size_t(out_inner) * es);
  });
}

}  // namespace whet::cpu
