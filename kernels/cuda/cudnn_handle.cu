#ifdef WHET_WITH_CUDNN  // without cuDNN there is no handle to make (and no cudnn.h)

#include "kernels/cuda/cudnn_handle.cuh"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "kernels/cuda/context.cuh"
#include "kernels/cuda/cudnn_check.cuh"

namespace whet::cuda {

namespace {

cudnnHandle_t create_handle(int device, cudaStream_t stream) {
  // The sub-libraries of cuDNN 9 are loaded at run time; a different major version there
  // would fail later in some obscure call, so name the mismatch here.
  const size_t runtime = cudnnGetVersion();
  WHET_CHECK(runtime / 10000 == CUDNN_MAJOR, "cuDNN: whet was built against cuDNN ", CUDNN_MAJOR,
             ".", CUDNN_MINOR, " but cuDNN ", runtime / 10000, ".", runtime / 100 % 100,
             " was loaded at run time");
  // An older minor than the headers' is not guaranteed by NVIDIA; the legacy convolution
  // API whet calls has not changed within 9.x, so say it once and carry on.
  static std::once_flag warned;
  if (runtime / 100 % 100 < CUDNN_MINOR)
    std::call_once(warned, [&] {
      std::fprintf(stderr, "whet: built against cuDNN %d.%d, running with cuDNN %zu.%zu\n",
                   CUDNN_MAJOR, CUDNN_MINOR, runtime / 10000, runtime / 100 % 100);
    });
  DeviceGuard guard(device);
  cudnnHandle_t h = nullptr;
  WHET_CUDNN_CHECK(cudnnCreate(&h));
  const cudnnStatus_t bound = cudnnSetStream(h, stream);
  if (bound != CUDNN_STATUS_SUCCESS) {
    WHET_CUDNN_WARN(cudnnDestroy(h));
    WHET_CUDNN_CHECK(bound);
  }
  return h;
}

}  // namespace

cudnnHandle_t cudnn_handle(int device) {
  Context& ctx = Context::get(device);  // validates `device`
  // Leaked on purpose, as the contexts are: a handle must outlive every static that may
  // still run a kernel at exit. After creation a lookup is one atomic load (one per call).
  static std::mutex mutex;
  static std::atomic<cudnnHandle_t>* handles =
      new std::atomic<cudnnHandle_t>[size_t(device_count())]();
  cudnnHandle_t h = handles[device].load(std::memory_order_acquire);
  if (h) return h;
  std::lock_guard<std::mutex> lock(mutex);
  h = handles[device].load(std::memory_order_relaxed);
  if (!h) {
    h = create_handle(device, ctx.stream());
    handles[device].store(h, std::memory_order_release);
  }
  return h;
}

}  // namespace whet::cuda

#endif  // WHET_WITH_CUDNN
