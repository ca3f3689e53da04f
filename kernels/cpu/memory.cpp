// Host memory, copies, fills and random draws.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/rng.h"
#include "kernels/cpu/block_cache.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {
constexpr size_t kAlign = 64;  // a cache line, and enough for any SIMD load
constexpr int64_t kGrain = 1 << 15;
}  // namespace

namespace {
size_t rounded(size_t nbytes) { return (nbytes + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void* allocate(size_t nbytes, int) {
  const size_t size = rounded(nbytes);
  if (void* p = BlockCache::host().take(size)) return p;
  void* p = std::aligned_alloc(kAlign, size);
  WHET_CHECK(p != nullptr, "out of host memory allocating ", nbytes, " bytes");
  return p;
}

void deallocate(void* p, size_t nbytes, int) {
  if (p != nullptr && !BlockCache::host().keep(p, rounded(nbytes))) std::free(p);
}

void synchronize(int) {}

void copy(const Tensor& src, Tensor& dst) {
  WHET_CHECK(src.device().is_cpu() && dst.device().is_cpu(), "copy: cpu kernel got ",
             src.device().str(), " -> ", dst.device().str());
  if (src.dtype() == dst.dtype()) {
    if (src.raw_data() != dst.raw_data()) std::memmove(dst.raw_data(), src.raw_data(), src.nbytes());
    return;
  }
  dispatch(src.dtype(), "copy", [&](auto st) {
    using S = typename decltype(st)::type;
    dispatch(dst.dtype(), "copy", [&](auto dt) {
      using D = typename decltype(dt)::type;
      const S* s = src.data<S>();
      D* d = dst.data<D>();
      parallel_for(src.numel(), kGrain, [&](int64_t i) { d[i] = cast_value<D>(s[i]); });
    });
  });
}

void fill(Tensor& out, double value) {
  dispatch(out.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = cast_value<T>(value);
    T* p = out.data<T>();
    std::fill(p, p + out.numel(), v);
  });
}

void arange(Tensor& out, double start, double step) {
  dispatch<DTypeSet::numeric>(out.dtype(), "arange", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) p[i] = cast_value<T>(start + double(i) * step);
  });
}

void random(Tensor& out, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset) {
  dispatch<DTypeSet::numeric>(out.dtype(), "random", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = out.data<T>();
    auto range = uint64_t(int64_t(b) - int64_t(a));
    parallel_for(out.numel(), 4096, [&](int64_t i) {
      Philox4 r = philox4x32_10(seed, offset + uint64_t(i));
      double v = 0;
      switch (kind) {
        case RandomKind::uniform: v = a + (b - a) * philox_uniform(r); break;
        case RandomKind::normal: v = a + b * philox_normal(r); break;
        case RandomKind::randint: v = double(int64_t(a) + int64_t(philox_below(r, range))); break;
      }
      p[i] = cast_value<T>(v);
    });
  });
}

void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset) {
  dispatch_float(mask.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* m = mask.data<T>();
    T keep = T(1.0 / (1.0 - p));
    parallel_for(mask.numel(), 4096, [&](int64_t i) {
      Philox4 r = philox4x32_10(seed, offset + uint64_t(i));
      m[i] = philox_uniform(r) >= p ? keep : T(0);
    });
  });
}

}  // namespace whet::cpu
