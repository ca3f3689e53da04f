// Random streams for the data pipeline. Every random decision (epoch order, split, per-class
// pick, each sample's augmentation) draws from a Philox stream named by what it is for, never
// from a shared generator, so results do not depend on thread count or on which worker ran
// which sample, and an interrupted epoch can be replayed exactly from its position.
//
// A sample's stream: key = mix(seed, epoch), counters [index * 2^32, (index + 1) * 2^32), so
// two samples never share a counter and epochs differ by key.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace whet::data {

// splitmix64's finaliser: a bijection that spreads nearby inputs (seed 0 and 1) far apart.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Purposes keep the streams of one seed apart (the split must not correlate with the order).
enum class Stream : uint64_t { sample = 1, order = 2, split = 3, per_class = 4, mix = 5 };

inline uint64_t stream_key(uint64_t seed, Stream purpose, uint64_t n = 0) {
  return mix64(mix64(seed ^ (uint64_t(purpose) << 56)) + mix64(n));
}

// The augmentation stream of dataset item `index` in `epoch`.
inline Generator sample_generator(uint64_t seed, int64_t epoch, int64_t index) {
  Generator g(stream_key(seed, Stream::sample, uint64_t(epoch)));
  g.set_offset(uint64_t(index) << 32);
  return g;
}

// Uniform in [lo, hi).
inline double uniform(Generator& g, double lo = 0.0, double hi = 1.0) {
  return lo + (hi - lo) * philox_uniform(philox4x32_10(g.seed(), g.advance(1)));
}

// Integer in [lo, hi); hi > lo.
inline int64_t randint(Generator& g, int64_t lo, int64_t hi) {
  return lo + int64_t(philox_below(philox4x32_10(g.seed(), g.advance(1)), uint64_t(hi - lo)));
}

// Fisher-Yates shuffle in place.
template <class T>
void shuffle(std::vector<T>& v, Generator& g) {
  for (int64_t i = int64_t(v.size()) - 1; i > 0; --i) std::swap(v[i], v[randint(g, 0, i + 1)]);
}

}  // namespace whet::data
