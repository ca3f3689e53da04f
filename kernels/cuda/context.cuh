// The per-device CUDA context (ARCHITECTURE.md, decision 6): kernels get their stream and
// library handles from here instead of from globals scattered through the code.
//
//   DeviceGuard guard(dev);            // makes `dev` current for this scope
//   Context& ctx = Context::get(dev);  // created on first use, lives for the process
//   kernel<<<grid, block, 0, ctx.stream()>>>(...);
//
// All work on a device is ordered on its one stream, which is what lets the caching
// allocator reuse a freed block at once. Host<->device transfers go through a pinned staging
// buffer, double-buffered so the host copy of one chunk overlaps the DMA of the other.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstddef>
#include <mutex>

namespace whet::cuda {

// Makes `device` current and restores the previous device on scope exit (never throws there).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  bool changed_ = false;
};

// Visible devices; 0 (never an error) when there is no driver or no device.
int device_count();

class Context {
 public:
  // The context of `device`, created on first use; throws whet::Error for an invalid index.
  static Context& get(int device);
  // The context of `device` if it was created already, else nullptr (never creates one).
  static Context* find(int device);

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  int sm_count() const { return sm_count_; }
  // The cuBLAS handle bound to stream() with its own workspace, created on first use.
  cublasHandle_t cublas();

  // Synchronous with respect to the host buffer: `src` may be reused when h2d returns (the
  // device copy itself may still be in flight on stream()).
  void h2d(void* dst, const void* src, size_t nbytes);
  // Blocks until the bytes are in `dst`.
  void d2h(void* dst, const void* src, size_t nbytes);
  void synchronize();

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  explicit Context(int device);
  static std::atomic<Context*>* slots();  // one per visible device, null until created
  void ensure_staging();

  int device_;
  int sm_count_ = 0;
  cudaStream_t stream_ = nullptr;

  std::mutex cublas_mutex_;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;

  // Two pinned chunks; events mark when the DMA reading/writing each one has finished.
  std::mutex staging_mutex_;
  void* staging_[2] = {nullptr, nullptr};
  cudaEvent_t staging_done_[2] = {nullptr, nullptr};
};

}  // namespace whet::cuda
