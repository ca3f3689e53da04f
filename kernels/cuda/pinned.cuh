// A caching allocator of page-locked host memory (core/pinned.h is the public face).
//
// cudaHostAlloc and cudaFreeHost are slow (they map pages and may synchronise the device), and
// the DataLoader asks for two buffers per batch, so freed blocks are kept and reused. A block
// may still be the source of a DMA queued before it was freed: on release it records an event
// on the stream of every device context that exists, and it is handed out again only once
// those events have completed.
#pragma once
#include <cstddef>

namespace whet::cuda {

void* pinned_allocate(size_t nbytes);
void pinned_deallocate(void* p, size_t nbytes);
// Whether p points into a block of this allocator (views into a block count).
bool is_pinned(const void* p);

struct PinnedStats {
  size_t blocks = 0;         // held by the cache, in use or not
  size_t bytes = 0;          // their total size
  size_t host_allocs = 0;    // cudaHostAlloc calls so far
};
PinnedStats pinned_stats();

}  // namespace whet::cuda
