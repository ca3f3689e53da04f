#include "kernels/cuda/context.cuh"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/common.cuh"

namespace whet::cuda {

namespace {
constexpr size_t kStagingChunk = size_t(8) << 20;      // per buffer; two buffers
constexpr size_t kCublasWorkspace = size_t(32) << 20;  // cuBLAS's advice for Hopper
}  // namespace

DeviceGuard::DeviceGuard(int device) {
  WHET_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) {
    WHET_CUDA_CHECK(cudaSetDevice(device));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) WHET_CUDA_WARN(cudaSetDevice(previous_));
}

int device_count() {
  static const int n = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      (void)cudaGetLastError();  // no driver or no device: not an error for whet
      return 0;
    }
    return count;
  }();
  return n;
}

Context& Context::get(int device) {
  int n = device_count();
  WHET_CHECK(device >= 0 && device < n, "CUDA device ", device, " is not available (", n,
             " CUDA device(s) visible)");
  Context* c = find(device);
  if (c) return *c;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  c = slots()[device].load(std::memory_order_relaxed);
  if (!c) {
    c = new Context(device);
    slots()[device].store(c, std::memory_order_release);
  }
  return *c;
}

Context* Context::find(int device) {
  if (device < 0 || device >= device_count()) return nullptr;
  return slots()[device].load(std::memory_order_acquire);
}

// Contexts are leaked on purpose so that tensors freed during static destruction still find
// their stream. After creation a lookup is one atomic load (it happens per launch).
std::atomic<Context*>* Context::slots() {
  static std::atomic<Context*>* contexts = new std::atomic<Context*>[size_t(device_count())]();
  return contexts;
}

Context::Context(int device) : device_(device) {
  DeviceGuard guard(device);
  WHET_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device));
  WHET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

cublasHandle_t Context::cublas() {
  std::lock_guard<std::mutex> lock(cublas_mutex_);
  if (!cublas_) {
    DeviceGuard guard(device_);
    cublasHandle_t h = nullptr;
    WHET_CUBLAS_CHECK(cublasCreate(&h));
    WHET_CUBLAS_CHECK(cublasSetStream(h, stream_));
    cublas_workspace_ = allocate_on(kCublasWorkspace, device_, stream_);
    WHET_CUBLAS_CHECK(cublasSetWorkspace(h, cublas_workspace_, kCublasWorkspace));
    // Keep float32 GEMMs in true float32 (no TF32): the CPU kernels are the reference.
    WHET_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    cublas_ = h;
  }
  return cublas_;
}

void Context::ensure_staging() {
  if (staging_[0]) return;
  DeviceGuard guard(device_);
  for (int i = 0; i < 2; ++i) {
    WHET_CUDA_CHECK(cudaMallocHost(&staging_[i], kStagingChunk));
    WHET_CUDA_CHECK(cudaEventCreateWithFlags(&staging_done_[i], cudaEventDisableTiming));
    WHET_CUDA_CHECK(cudaEventRecord(staging_done_[i], stream_));
  }
}

void Context::h2d(void* dst, const void* src, size_t nbytes) {
  std::lock_guard<std::mutex> lock(staging_mutex_);
  DeviceGuard guard(device_);
  ensure_staging();
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  for (size_t done = 0, chunk = 0; done < nbytes; done += kStagingChunk, chunk ^= 1) {
    size_t len = std::min(kStagingChunk, nbytes - done);
    // The previous DMA out of this buffer must finish before it is overwritten.
    WHET_CUDA_CHECK(cudaEventSynchronize(staging_done_[chunk]));
    std::memcpy(staging_[chunk], s + done, len);
    WHET_CUDA_CHECK(
        cudaMemcpyAsync(d + done, staging_[chunk], len, cudaMemcpyHostToDevice, stream_));
    WHET_CUDA_CHECK(cudaEventRecord(staging_done_[chunk], stream_));
  }
}

void Context::d2h(void* dst, const void* src, size_t nbytes) {
  std::lock_guard<std::mutex> lock(staging_mutex_);
  DeviceGuard guard(device_);
  ensure_staging();
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  size_t chunks = (nbytes + kStagingChunk - 1) / kStagingChunk;
  auto issue = [&](size_t i) {
    size_t off = i * kStagingChunk, len = std::min(kStagingChunk, nbytes - off);
    int buf = int(i & 1);
    WHET_CUDA_CHECK(cudaMemcpyAsync(staging_[buf], s + off, len, cudaMemcpyDeviceToHost, stream_));
    WHET_CUDA_CHECK(cudaEventRecord(staging_done_[buf], stream_));
  };
  // Chunk i+1 is in flight while chunk i is copied out of its buffer.
  if (chunks > 0) issue(0);
  for (size_t i = 0; i < chunks; ++i) {
    if (i + 1 < chunks) issue(i + 1);
    int buf = int(i & 1);
    size_t off = i * kStagingChunk, len = std::min(kStagingChunk, nbytes - off);
    WHET_CUDA_CHECK(cudaEventSynchronize(staging_done_[buf]));
    std::memcpy(d + off, staging_[buf], len);
  }
}

void Context::synchronize() {
  DeviceGuard guard(device_);
  WHET_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

int grid_for(int64_t items, const Context& ctx) {
  int64_t want = (items + kThreads - 1) / kThreads;
  int64_t cap = int64_t(ctx.sm_count()) * 16;  // 2048 threads per SM, two waves
  return int(std::max<int64_t>(1, std::min(want, cap)));
}

}  // namespace whet::cuda
