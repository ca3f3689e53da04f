#include "kernels/cuda/allocator.cuh"

#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/context.cuh"

namespace whet::cuda {

namespace {
constexpr size_t kSmallLimit = size_t(1) << 20;  // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;  // 2 MiB

struct Block {
  size_t size;  // rounded
  cudaStream_t stream;
};

// Free blocks ordered by (stream, size): lower_bound finds the best fit on a stream.
using FreeKey = std::pair<cudaStream_t, size_t>;

struct DeviceCache {
  std::mutex mutex;
  std::unordered_map<void*, Block> live;
  std::multimap<FreeKey, void*> free;
  AllocatorStats stats;
};

DeviceCache& cache_of(int device) {
  // Leaked on purpose: Storage deleters of static tensors may run after any static
  // destructor, and must still find their cache.
  static std::vector<DeviceCache*>* caches = [] {
    auto* v = new std::vector<DeviceCache*>();
    for (int i = 0; i < device_count(); ++i) v->push_back(new DeviceCache());
    return v;
  }();
  WHET_CHECK(device >= 0 && device < int(caches->size()), "CUDA allocator: device ", device,
             " is not available (", caches->size(), " CUDA device(s) visible)");
  return *(*caches)[size_t(device)];
}

// Returns every cached block of one device to the driver; the caller holds c.mutex and has
// made the device current. Queued kernels may still use a cached block, so drain them first.
void release_cached(DeviceCache& c) {
  if (c.free.empty()) return;
  WHET_CUDA_CHECK(cudaDeviceSynchronize());
  for (auto it = c.free.begin(); it != c.free.end(); it = c.free.erase(it)) {
    WHET_CUDA_CHECK(cudaFree(it->second));
    c.stats.bytes_cached -= it->first.second;
    ++c.stats.cuda_frees;
  }
}
}  // namespace

size_t round_size(size_t nbytes) {
  if (nbytes <= kSmallLimit) return (nbytes + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (nbytes + kLargeRound - 1) / kLargeRound * kLargeRound;
}

void* allocate_on(size_t nbytes, int device, cudaStream_t stream) {
  if (nbytes == 0) return nullptr;
  DeviceCache& c = cache_of(device);
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(c.mutex);
  ++c.stats.allocations;

  void* p = nullptr;
  auto it = c.free.lower_bound({stream, size});
  if (it != c.free.end() && it->first.first == stream && it->first.second <= size + size / 4) {
    p = it->second;
    size = it->first.second;
    c.free.erase(it);
    c.stats.bytes_cached -= size;
    ++c.stats.cache_hits;
  } else {
    DeviceGuard guard(device);
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached(c);
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      (void)cudaGetLastError();
      WHET_FAIL("CUDA allocator: cannot allocate ", nbytes, " bytes (", size,
                " rounded) on device cuda:", device, " (", cudaGetErrorString(e), "; ",
                c.stats.bytes_in_use, " bytes in use by whet, ", free_b, " of ", total_b,
                " bytes free on the device)");
    }
    ++c.stats.cuda_mallocs;
  }
  c.live.emplace(p, Block{size, stream});
  c.stats.bytes_in_use += size;
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use)
    c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  return p;
}

void* allocate(size_t nbytes, int device) {
  if (nbytes == 0) return nullptr;
  return allocate_on(nbytes, device, Context::get(device).stream());
}

void deallocate(void* p, size_t, int device) noexcept {
  if (!p) return;
  try {
    DeviceCache& c = cache_of(device);
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.live.find(p);
    if (it == c.live.end()) {
      std::fprintf(stderr, "whet: CUDA allocator asked to free unknown pointer %p on cuda:%d\n", p,
                   device);
      return;
    }
    Block b = it->second;
    c.live.erase(it);
    c.stats.bytes_in_use -= b.size;
    c.stats.bytes_cached += b.size;
    c.free.emplace(FreeKey{b.stream, b.size}, p);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "whet: CUDA deallocate failed: %s\n", e.what());
  }
}

AllocatorStats allocator_stats(int device) {
  DeviceCache& c = cache_of(device);
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void empty_cache(int device) {
  DeviceCache& c = cache_of(device);
  std::lock_guard<std::mutex> lock(c.mutex);
  DeviceGuard guard(device);
  release_cached(c);
}

}  // namespace whet::cuda
