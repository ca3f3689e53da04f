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

BatchShardGuard::BatchShardGuard(int64_t first, int64_t rows, int64_t total)
    : previous_(current_shard) {
  WHET_CHECK(first >= 0 && rows > 0 && first + rows <= total, "BatchShardGuard: rows [", first,
             ", ", first + rows, ") are not inside a batch of ", total);
  current_shard = BatchShard{first, rows, total};
}
BatchShardGuard::~BatchShardGuard() { current_shard = previous_; }

uint64_t reserve_batch_counters(Generator& g, int64_t numel, int64_t rows, const char* op) {
  const BatchShard& s = current_shard;
  if (s.total == 0) return g.advance(uint64_t(numel));
  WHET_CHECK(rows == s.rows, op, ": its input has ", rows, " rows in dim 0 where the batch "
             "share being computed has ", s.rows, "; under data parallelism or micro-batches "
             "random ops need batch-major inputs");
  const uint64_t per_row = uint64_t(numel / rows);
  return g.advance(per_row * uint64_t(s.total)) + per_row * uint64_t(s.first);
}

}  // namespace whet
