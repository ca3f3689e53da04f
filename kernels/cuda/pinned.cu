#include "kernels/cuda/pinned.cuh"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/context.cuh"

namespace whet::cuda {

namespace {

constexpr size_t kRound = size_t(64) << 10;  // sizes are rounded to 64 KiB, so batches reuse

struct Block {
  size_t size = 0;
  bool in_use = false;
  std::vector<cudaEvent_t> pending;  // recorded at release; the block is free once all are done
};

class PinnedCache {
 public:
  void* allocate(size_t nbytes) {
    const size_t size = (nbytes + kRound - 1) / kRound * kRound;
    std::lock_guard<std::mutex> lock(mutex_);
    // The smallest free block that fits without wasting more than its request again.
    for (auto it = free_.lower_bound(size); it != free_.end() && it->first <= 2 * size; ++it) {
      Block& b = blocks_.at(it->second);
      if (!settled(b)) continue;
      void* p = it->second;
      free_.erase(it);
      b.in_use = true;
      return p;
    }
    void* p = nullptr;
    WHET_CUDA_CHECK(cudaHostAlloc(&p, size, cudaHostAllocPortable));
    ++host_allocs_;
    Block b;
    b.size = size;
    b.in_use = true;
    blocks_.emplace(static_cast<char*>(p), std::move(b));
    return p;
  }

  void release(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(static_cast<char*>(p));
    if (it == blocks_.end() || !it->second.in_use) {
      std::fprintf(stderr, "whet: pinned_deallocate of a pointer this allocator does not own\n");
      return;
    }
    Block& b = it->second;
    // Any copy out of this block was queued on some device's stream before now.
    for (int d = 0; d < device_count(); ++d) {
      Context* ctx = Context::find(d);
      if (!ctx) continue;
      cudaEvent_t e = take_event();
      if (e == nullptr) continue;
      WHET_CUDA_WARN(cudaEventRecord(e, ctx->stream()));
      b.pending.push_back(e);
    }
    b.in_use = false;
    free_.emplace(b.size, it->first);
  }

  bool contains(const void* p) {
    const char* c = static_cast<const char*>(p);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.upper_bound(const_cast<char*>(c));
    if (it == blocks_.begin()) return false;
    --it;
    return c < it->first + it->second.size;
  }

  PinnedStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    PinnedStats s;
    s.blocks = blocks_.size();
    for (const auto& kv : blocks_) s.bytes += kv.second.size;
    s.host_allocs = host_allocs_;
    return s;
  }

 private:
  // True when every event recorded at the block's release has completed; completed events go
  // back to the pool.
  bool settled(Block& b) {
    while (!b.pending.empty()) {
      cudaError_t st = cudaEventQuery(b.pending.back());
      if (st == cudaErrorNotReady) {
        (void)cudaGetLastError();
        return false;
      }
      WHET_CUDA_CHECK(st);
      events_.push_back(b.pending.back());
      b.pending.pop_back();
    }
    return true;
  }

  cudaEvent_t take_event() {
    if (!events_.empty()) {
      cudaEvent_t e = events_.back();
      events_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    WHET_CUDA_WARN(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }

  std::mutex mutex_;
  std::map<char*, Block> blocks_;     // every block, by base address
  std::multimap<size_t, char*> free_;  // released blocks, by size
  std::vector<cudaEvent_t> events_;    // completed events, for reuse
  size_t host_allocs_ = 0;
};

// Leaked on purpose: batches freed during static destruction still find it.
PinnedCache& cache() {
  static PinnedCache* c = new PinnedCache();
  return *c;
}

}  // namespace

void* pinned_allocate(size_t nbytes) { return cache().allocate(nbytes); }
void pinned_deallocate(void* p, size_t) { cache().release(p); }
bool is_pinned(const void* p) { return p != nullptr && cache().contains(p); }
PinnedStats pinned_stats() { return cache().stats(); }

}  // namespace whet::cuda
