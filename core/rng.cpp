#include "core/rng.h"

#include "core/error.h"

namespace whet {

Generator& default_generator() {
  static Generator g;
  return g;
}
void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
thread_local BatchShard current_shard;
}

const BatchShard& current_batch_shard() { return current_shard; }

BatchShardGuard::BatchShardGuard(int64_t index, int64_t count) : previous_(current_shard) {
  WHET_CHECK(count >= 1 && index >= 0 && index < count, "BatchShardGuard: share ", index,
             " of ", count, " does not exist");
  current_shard = BatchShard{index, count};
}
BatchShardGuard::~BatchShardGuard() { current_shard = previous_; }

uint64_t reserve_batch_counters(Generator& g, uint64_t numel) {
  const BatchShard& s = current_shard;
  return g.advance(numel * uint64_t(s.count)) + numel * uint64_t(s.index);
}

}  // namespace whet
