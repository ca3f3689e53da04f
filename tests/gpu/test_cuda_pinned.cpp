// Pinned host tensors (core/pinned.h): what they hold reaches the device through the
// asynchronous DMA path, a released block is reused rather than reallocated, and a block still
// being read by a queued copy is not handed out again.
#include <cstring>
#include <vector>

#include "core/pinned.h"
#include "tests/gpu/gpu_test_util.h"

#ifdef WHET_WITH_CUDA
#include <cuda_runtime_api.h>

#include <chrono>
#include <thread>

#include "kernels/cuda/context.cuh"
#include "kernels/cuda/pinned.cuh"
#endif

using namespace whet;
using namespace whet::gputest;

TEST_CASE("cuda pinned: a pinned tensor is a CPU tensor whose copy to the device is exact") {
  REQUIRE(pinned_memory_available());
  Tensor host = uniform_cpu({257, 31}, DType::f32, -3, 3, 21);
  Tensor pinned = empty_pinned(host.shape(), DType::f32);
  CHECK(pinned.device() == Device::cpu());
  std::memcpy(pinned.raw_data(), host.raw_data(), host.nbytes());
#ifdef WHET_WITH_CUDA
  CHECK(cuda::is_pinned(pinned.raw_data()));
  CHECK(cuda::is_pinned(static_cast<char*>(pinned.raw_data()) + 100));
  CHECK_FALSE(cuda::is_pinned(host.raw_data()));
#endif
  Tensor d = pinned.to(dev());
  WHET_CHECK_CLOSE("pinned upload", d, host, Tol{0, 0});
  // With a dtype change the bytes go up first and are converted on the device.
  Tensor dh = poisoned(host.shape(), DType::f16);
  gpu().copy(pinned, dh);
  WHET_CHECK_CLOSE("pinned upload to f16", dh, cast_cpu(host, DType::f16), Tol{0, 0});
}

#ifdef WHET_WITH_CUDA
TEST_CASE("cuda pinned: released blocks are reused, not reallocated") {
  // A batch's two buffers, as the loader asks for them; the stream is idle when they are
  // released, so the blocks are free again at once.
  auto batch = [] {
    Tensor images = empty_pinned({64, 28, 28, 3});
    Tensor labels = empty_pinned({64}, DType::i64);
    (void)images.to(dev());
    (void)labels.to(dev());
    gpu().synchronize(0);
  };
  batch();  // warm the cache with both sizes
  const size_t allocs = cuda::pinned_stats().host_allocs;
  for (int i = 0; i < 50; ++i) batch();
  CHECK(cuda::pinned_stats().host_allocs == allocs);
}

TEST_CASE("cuda pinned: a block read by a queued copy is not handed out before the copy ends") {
  // The stream is held by a host function that sleeps, so every upload below is still queued
  // when its buffer is released and the next one is allocated and filled: a block handed out
  // before its DMA ran would be overwritten, and some device tensor would hold later values.
  const int64_t n = int64_t(1) << 22;
  cudaStream_t stream = cuda::Context::get(0).stream();
  REQUIRE(cudaLaunchHostFunc(
              stream, [](void*) { std::this_thread::sleep_for(std::chrono::milliseconds(300)); },
              nullptr) == cudaSuccess);
  std::vector<Tensor> on_device;
  for (int i = 0; i < 8; ++i) {
    Tensor p = empty_pinned({n}, DType::f32);
    float* v = p.data<float>();
    for (int64_t j = 0; j < n; ++j) v[j] = float(i);
    on_device.push_back(p.to(dev()));
  }  // each p is released while its copy may still run
  for (int i = 0; i < 8; ++i) {
    Tensor expected = Tensor::empty({n}, DType::f32);
    float* v = expected.data<float>();
    for (int64_t j = 0; j < n; ++j) v[j] = float(i);
    WHET_CHECK_CLOSE("upload " + std::to_string(i), on_device[size_t(i)], expected, Tol{0, 0});
  }
}
#endif
