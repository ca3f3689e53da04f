#include "kernels/cuda/pinned.cuh"

#include <cuda_runtime_api.h>

#include <cstdio>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/context.cuh"

namespace whet::cuda {

namespace {

constexpr size_t kRound = size_t(64) << 10;  // sizes are rounded to 64 KiB, so batches reuse

struct Pending {
  int device;
  cudaEvent_t event;
};

struct Block {
  size_t size = 0;
  bool in_use = false;
  std::vector<Pending> pending;  // recorded at release; the block is free once all are done
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
    // Any copy out of this block was queued on some device's stream before now; a stream with
    // nothing queued cannot still be reading it.
    for (int d = 0; d < device_count(); ++d) {
      Context* ctx = Context::find(d);
      if (!ctx) continue;
      const cudaError_t idle = cudaStreamQuery(ctx->stream());
      if (idle == cudaSuccess) continue;
      (void)cudaGetLastError();  // cudaErrorNotReady is an answer, not an error
      if (cudaEvent_t e = record_event(d, ctx->stream()))
        b.pending.push_back({d, e});
      else  // no event to wait on later: wait now rather than risk handing the block out early
        WHET_CUDA_WARN(cudaStreamSynchronize(ctx->stream()));
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
  // back to their device's pool.
  bool settled(Block& b) {
    while (!b.pending.empty()) {
      const Pending& p = b.pending.back();
      cudaError_t st = cudaEventQuery(p.event);
      if (st == cudaErrorNotReady) {
        (void)cudaGetLastError();
        return false;
      }
      WHET_CUDA_CHECK(st);
      events_[p.device].push_back(p.event);
      b.pending.pop_back();
    }
    return true;
  }

  // An event of `device` recorded on `stream`, or null when that failed (already reported).
  // Events belong to the device current at their creation, hence a pool per device.
  cudaEvent_t record_event(int device, cudaStream_t stream) {
    DeviceGuard guard(device);
    std::vector<cudaEvent_t>& pool = events_[device];
    cudaEvent_t e = nullptr;
    if (!pool.empty()) {
      e = pool.back();
      pool.pop_back();
    } else if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    if (cudaEventRecord(e, stream) != cudaSuccess) {
      (void)cudaGetLastError();
      pool.push_back(e);
      return nullptr;
    }
    return e;
  }

  std::mutex mutex_;
  std::map<char*, Block> blocks_;     // every block, by base address
  std::multimap<size_t, char*> free_;  // released blocks, by size
  std::map<int, std::vector<cudaEvent_t>> events_;  // completed events by device, for reuse
  size_t host_allocs_ = 0;
};

// Leaked on purpose: batches freed during static destruction still find it.
PinnedCache& cache() {
  static PinnedCache* c = new PinnedCache();
  return *c;
}

}  // namespace

void* pinned_allocate(size_t nbytes) { return cache().allocate(nbytes); }
void pinned_deallocate(void* p, size_t) {
  try {  // called from a tensor's deleter: report, never throw
    cache().release(p);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "whet: releasing pinned memory: %s\n", e.what());
  }
}
bool is_pinned(const void* p) { return p != nullptr && cache().contains(p); }
PinnedStats pinned_stats() { return cache().stats(); }

}  // namespace whet::cuda
