// Philox4x32-10, a counter-based generator (Salmon et al., SC'11): the n-th number depends
// only on (seed, counter), so CPU and GPU kernels produce identical streams and any slice
// can be drawn independently. Element i of a draw uses counter (offset + i), all four words.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define WHET_HD __host__ __device__ __forceinline__
#else
#define WHET_HD inline
#endif

namespace whet {

struct Philox4 {
  uint32_t v[4];
};

WHET_HD Philox4 philox4x32_10(uint64_t seed, uint64_t counter) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kM0) * c0, p1 = uint64_t(kM1) * c2;
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits, from words 0 and 1.
WHET_HD double philox_uniform(const Philox4& r) {
  uint64_t bits = (uint64_t(r.v[0]) << 32 | r.v[1]) >> 11;
  return double(bits) * (1.0 / 9007199254740992.0);
}
// Standard normal by Box-Muller from all four words.
WHET_HD double philox_normal(const Philox4& r) {
  double u1 = philox_uniform(r);
  uint64_t bits = (uint64_t(r.v[2]) << 32 | r.v[3]) >> 11;
  double u2 = double(bits) * (1.0 / 9007199254740992.0);
  // 1 - u1 lies in (0, 1], so the log is finite.
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586476925 * u2);
}
// Integer in [0, range) from words 0 and 1 (bias below 2^-32 relative for ranges < 2^32).
WHET_HD uint64_t philox_below(const Philox4& r, uint64_t range) {
  return (uint64_t(r.v[0]) << 32 | r.v[1]) % range;
}

// The host-side generator state: a seed and the next unused counter.
class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) : seed_(seed) {}
  void manual_seed(uint64_t seed) { seed_ = seed, offset_ = 0; }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Data parallelism gives each process a contiguous share of every batch along dim 0, and
// micro-batches split a share further. Inside a BatchShardGuard(first, rows, total) the
// tensors flowing through the model are rows [first, first + rows) of a batch of `total`
// rows, and an op that draws one number per element (dropout) reserves the counters of the
// whole batch and takes those of its rows: the pieces draw exactly the numbers the whole
// batch draws at once, whoever computes them and in whatever order.
struct BatchShard {
  int64_t first = 0, rows = 0, total = 0;  // total 0: no guard, a tensor is its whole batch
};
const BatchShard& current_batch_shard();
class BatchShardGuard {
 public:
  BatchShardGuard(int64_t first, int64_t rows, int64_t total);
  ~BatchShardGuard();
  BatchShardGuard(const BatchShardGuard&) = delete;
  BatchShardGuard& operator=(const BatchShardGuard&) = delete;

 private:
  BatchShard previous_;
};
// The first counter of the `numel` elements of a tensor with `rows` rows in dim 0 (this
// shard's rows); advances g past the whole batch. `op` names the caller in errors.
uint64_t reserve_batch_counters(Generator& g, int64_t numel, int64_t rows, const char* op);

}  // namespace whet
