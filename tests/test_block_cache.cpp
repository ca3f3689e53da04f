// The CPU backend's reuse of large host blocks (kernels/cpu/block_cache.h).
#include <doctest/doctest.h>

#include "core/backend.h"
#include "kernels/cpu/block_cache.h"

using namespace whet;
using whet::cpu::BlockCache;

TEST_CASE("block cache: a freed large block is handed out again, small ones are not kept") {
  BlockCache& cache = BlockCache::host();
  cache.release_all();  // blocks other tests left would match sizes too
  const Backend& b = cpu_backend();
  const size_t big = BlockCache::kMinBytes * 3 + 64;
  void* p = b.allocate(big, 0);
  const size_t before = cache.kept_bytes();
  b.deallocate(p, big, 0);
  CHECK(cache.kept_bytes() == before + big);
  void* q = b.allocate(big, 0);
  CHECK(q == p);  // the same pages, already mapped
  CHECK(cache.kept_bytes() == before);
  void* other = b.allocate(big + 64, 0);  // another size: not that block
  CHECK(other != q);
  b.deallocate(other, big + 64, 0);
  b.deallocate(q, big, 0);

  const size_t small = BlockCache::kMinBytes / 2;
  const size_t kept = cache.kept_bytes();
  void* s = b.allocate(small, 0);
  b.deallocate(s, small, 0);
  CHECK(cache.kept_bytes() == kept);  // went back to the heap
  CHECK(cache.take(small) == nullptr);

  cache.release_all();
  CHECK(cache.kept_bytes() == 0);
}

TEST_CASE("block cache: tensors of one shape reuse one block across steps") {
  BlockCache::host().release_all();
  void* first = nullptr;
  for (int step = 0; step < 3; ++step) {
    Tensor t = Tensor::empty({1024, 1024}, DType::f32);  // 4 MiB
    if (step == 0) first = t.raw_data();
    else CHECK(t.raw_data() == first);
  }
}
