// Reuse of large host blocks. glibc serves big allocations with fresh mmap'd pages, which
// the kernel zero-fills on first touch: a training step that frees and reallocates its
// activations pays those page faults every step (small_cnn at batch 64: 270 thousand faults
// in 40 steps, 14% of the step time). Blocks of at least kMinBytes are kept after free and
// handed out again for a request of the same rounded size, up to a bound on what is kept.
#pragma once
#include <cstddef>

namespace whet::cpu {

class BlockCache {
 public:
  static constexpr size_t kMinBytes = size_t(1) << 20;  // smaller blocks come from the heap

  // A cached block of exactly `nbytes` (already rounded by the caller), or nullptr.
  void* take(size_t nbytes);
  // Keeps the block for reuse, or returns false (the caller frees it) when it is small or the
  // cache is full.
  bool keep(void* p, size_t nbytes);
  // Frees every kept block.
  void release_all();
  size_t kept_bytes() const;

  static BlockCache& host();  // the CPU backend's
};

}  // namespace whet::cpu
