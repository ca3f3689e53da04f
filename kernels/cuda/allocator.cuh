// The CUDA caching allocator: stream-ordered reuse of device blocks without cudaMalloc.
//
// Requests are rounded (512 B below 1 MiB, 2 MiB granularity above) and each block is one
// cudaMalloc. A freed block goes to its device's cache, keyed by the stream it was used on;
// a later request on that stream takes the smallest cached block that fits (wasting at most a
// quarter of it) with no synchronisation, because the stream runs the old user's kernels
// before the new one's. When cudaMalloc fails, the device's cache is released and the call
// retried once; then whet::Error names the size and device. Thread-safe (one mutex per device).
// Blocks are never returned to the driver at exit: the process teardown does that.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace whet::cuda {

struct AllocatorStats {
  size_t bytes_in_use = 0;  // handed out and not yet freed (rounded sizes)
  size_t bytes_cached = 0;  // freed and held for reuse
  size_t peak_bytes_in_use = 0;
  uint64_t allocations = 0;   // requests served
  uint64_t cache_hits = 0;    // requests served from the cache
  uint64_t cuda_mallocs = 0;  // cudaMalloc calls that succeeded
  uint64_t cuda_frees = 0;    // cudaFree calls (cache releases)
};

// On `device`'s context stream (the Backend slots).
void* allocate(size_t nbytes, int device);
// Never throws (runs in Storage deleters); an unknown pointer is reported on stderr.
void deallocate(void* p, size_t nbytes, int device) noexcept;

// On an explicit stream (the context's own buffers, e.g. the cuBLAS workspace).
void* allocate_on(size_t nbytes, int device, cudaStream_t stream);

AllocatorStats allocator_stats(int device);
// Returns every cached block of `device` to the driver (synchronises the device).
void empty_cache(int device);

// A device buffer from the caching allocator, returned on scope exit. The return is
// stream-ordered: work already queued on the stream may still use the bytes.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t nbytes, int device)
      : p_(allocate(nbytes, device)), nbytes_(nbytes), device_(device) {}
  ~DeviceBuffer() { deallocate(p_, nbytes_, device_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_;
  size_t nbytes_;
  int device_;
};

// Byte count a request is rounded to (exposed for tests).
size_t round_size(size_t nbytes);

}  // namespace whet::cuda
