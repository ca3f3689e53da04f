// Memory, copies and creation kernels on CUDA: the caching allocator, host<->device round
// trips, every dtype conversion, fill and arange, and the error paths.
#include <algorithm>
#include <cstring>

#include "tests/gpu/gpu_test_util.h"

#ifdef WHET_WITH_CUDA
#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/context.cuh"
#endif

using namespace whet;
using namespace whet::gputest;

TEST_CASE("cuda: device count and backend table") {
  CHECK(cuda_compiled());
  CHECK(cuda_device_count() >= 1);
  const Backend& b = gpu();
  CHECK(std::string(b.name) == "cuda");
  // Every slot is filled; convolution only where cuDNN was found at build time.
  for (auto slot :
       {b.allocate != nullptr, b.deallocate != nullptr, b.copy != nullptr, b.synchronize != nullptr,
        b.allocate_pinned != nullptr, b.deallocate_pinned != nullptr, b.fill != nullptr,
        b.arange != nullptr, b.random != nullptr, b.unary != nullptr, b.unary_backward != nullptr,
        b.binary != nullptr, b.affine != nullptr, b.reduce != nullptr, b.permute != nullptr,
        b.copy_block != nullptr, b.extract_block != nullptr, b.matmul != nullptr,
        b.max_pool2d != nullptr, b.max_pool2d_backward != nullptr, b.avg_pool2d != nullptr,
        b.avg_pool2d_backward != nullptr, b.adaptive_avg_pool2d != nullptr,
        b.adaptive_avg_pool2d_backward != nullptr, b.batch_norm != nullptr,
        b.batch_norm_backward != nullptr, b.softmax != nullptr, b.softmax_backward != nullptr,
        b.cross_entropy != nullptr, b.cross_entropy_backward != nullptr,
        b.dropout_mask != nullptr})
    CHECK(slot);
#ifdef WHET_WITH_CUDNN
  CHECK((b.conv2d != nullptr));
  CHECK((b.conv2d_backward_input != nullptr));
  CHECK((b.conv2d_backward_weight != nullptr));
#else
  MESSAGE("built without cuDNN: conv2d has no CUDA kernel");
#endif
}

TEST_CASE("cuda: invalid device index throws whet::Error") {
  int n = cuda_device_count();
  CHECK_THROWS_AS(Tensor::empty({4}, DType::f32, Device::cuda(n)), Error);
  CHECK_THROWS_AS(Tensor::empty({4}, DType::f32, Device::cuda(-1)), Error);
  CHECK_THROWS_AS(gpu().allocate(16, n + 3), Error);
#ifdef WHET_WITH_CUDA
  CHECK_THROWS_AS(cuda::Context::get(n), Error);
#endif
}

#ifdef WHET_WITH_CUDA
TEST_CASE("cuda: status checks throw whet::Error naming expression, file and line") {
  try {
    WHET_CUDA_CHECK(cudaSetDevice(12345));
    FAIL("no throw");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("cudaSetDevice(12345)") != std::string::npos);
    CHECK(m.find("test_cuda_memory.cpp") != std::string::npos);
  }
  CHECK(cudaGetLastError() == cudaSuccess);  // the failed call left no sticky error
}
#endif

TEST_CASE("cuda: caching allocator reaches a steady state without cudaMalloc") {
#ifdef WHET_WITH_CUDA
  CHECK(cuda::round_size(1) == 512);
  CHECK(cuda::round_size(512) == 512);
  CHECK(cuda::round_size(513) == 1024);
  CHECK(cuda::round_size(size_t(1) << 20) == size_t(1) << 20);
  CHECK(cuda::round_size((size_t(1) << 20) + 1) == size_t(2) << 20);
  CHECK(cuda::round_size((size_t(5) << 20) + 3) == size_t(6) << 20);

  const std::vector<Shape> shapes = {{1},          {7},       {1023}, {4097}, {(1 << 20) + 3},
                                     {3, 1 << 20}, {129, 513}};
  auto one_step = [&] {
    std::vector<Tensor> live;
    for (const Shape& s : shapes) live.push_back(Tensor::empty(s, DType::f32, dev()));
    // A step's typical traffic: a fill, a binary op and a temporary dropped early.
    gpu().fill(live[4], 1.0);
    Tensor tmp = Tensor::empty({(1 << 20) + 3}, DType::f32, dev());
    gpu().binary(BinaryOp::add, live[4], live[4], tmp);
    live.pop_back();
  };
  for (int i = 0; i < 3; ++i) one_step();
  gpu().synchronize(0);
  cuda::AllocatorStats before = cuda::allocator_stats(0);
  for (int i = 0; i < 100; ++i) one_step();
  gpu().synchronize(0);
  cuda::AllocatorStats after = cuda::allocator_stats(0);
  CHECK(after.cuda_mallocs == before.cuda_mallocs);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.allocations > before.allocations);
  CHECK(after.cache_hits - before.cache_hits == after.allocations - before.allocations);

  // A request the device cannot hold releases the cache, retries, then throws, naming size
  // and device; the allocator still works afterwards.
  try {
    Tensor::empty({int64_t(1) << 48}, DType::f32, dev());
    FAIL("no throw");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.find("out of memory") != std::string::npos);
    CHECK(m.find("cuda:0") != std::string::npos);
  }
  CHECK(cuda::allocator_stats(0).bytes_cached == 0);
  Tensor again = Tensor::empty({1000}, DType::f32, dev());
  gpu().fill(again, 2.0);
  CHECK(values(again)[999] == 2.0);
#endif
}

TEST_CASE("cuda: host <-> device round trips are exact") {
  // Includes sizes over the 8 MiB staging chunk, so the double-buffered path runs.
  std::vector<int64_t> ns = sizes();
  ns.push_back((int64_t(9) << 20) + 5);  // 36 MiB of float32: five chunks
  for (DType dt : kAllDTypes) {
    for (int64_t n : ns) {
      Tensor h = dt == DType::boolean ? randint_cpu({n}, dt, 0, 2, 7)
                                      : uniform_cpu({n}, dt, 0, 100, uint64_t(n));
      Tensor d = to_gpu(h);
      Tensor back = to_host(d);
      CHECK_MESSAGE(std::memcmp(back.raw_data(), h.raw_data(), h.nbytes()) == 0, dtype_name(dt)
                                                                                     << " n=" << n);
    }
  }
  // The host source may be overwritten as soon as the copy returns.
  int64_t n = (int64_t(5) << 20) + 1;
  Tensor h = uniform_cpu({n}, DType::f32, -1, 1, 3);
  std::vector<float> keep(h.data<float>(), h.data<float>() + n);
  Tensor d = to_gpu(h);
  std::fill(h.data<float>(), h.data<float>() + n, 0.0f);
  Tensor back = to_host(d);
  CHECK(std::memcmp(back.raw_data(), keep.data(), size_t(n) * 4) == 0);
  // Device to device, and through misaligned views.
  Tensor d2 = poisoned({n}, DType::f32);
  gpu().copy(d, d2);
  CHECK(std::memcmp(to_host(d2).raw_data(), keep.data(), size_t(n) * 4) == 0);
  Tensor mis = misaligned_gpu(Tensor::from_vector(keep, {n}));
  CHECK(std::memcmp(to_host(mis).raw_data(), keep.data(), size_t(n) * 4) == 0);
}

TEST_CASE("cuda: every dtype conversion matches the CPU") {
  for (DType from : kAllDTypes) {
    for (DType to : kAllDTypes) {
      for (int64_t n : {int64_t(1), int64_t(7), int64_t(4097), (int64_t(1) << 20) + 3}) {
        std::string what =
            std::string(dtype_name(from)) + " -> " + dtype_name(to) + " n=" + std::to_string(n);
        // Values every target can hold: [0, 100) with fractions (bool sources: 0 and 1).
        Tensor src = from == DType::boolean ? randint_cpu({n}, from, 0, 2, uint64_t(n))
                                            : uniform_cpu({n}, from, 0, 100, uint64_t(n) + 1);
        Tensor expected = cast_cpu(src, to);
        // Device to device.
        Tensor out = poisoned({n}, to);
        gpu().copy(to_gpu(src), out);
        WHET_CHECK_CLOSE(what + " (device)", out, expected, Tol{0, 0});
        // Host to device and device to host, converting on the way.
        Tensor out_h2d = poisoned({n}, to);
        gpu().copy(src, out_h2d);
        WHET_CHECK_CLOSE(what + " (h2d)", out_h2d, expected, Tol{0, 0});
        Tensor out_d2h = Tensor::empty({n}, to);
        gpu().copy(to_gpu(src), out_d2h);
        WHET_CHECK_CLOSE(what + " (d2h)", out_d2h, expected, Tol{0, 0});
      }
    }
  }
  // Signed values and rounding to half types: same bits as the CPU's round-to-nearest-even.
  for (DType from : {DType::f32, DType::f64}) {
    for (DType to : {DType::f16, DType::bf16, DType::f32, DType::i32, DType::i64}) {
      Tensor src = Tensor::empty({100003}, DType::f64);
      cpu().random(src, RandomKind::normal, 0, 300, 11, 0);
      src = cast_cpu(src, from);
      Tensor out = poisoned({100003}, to);
      gpu().copy(to_gpu(src), out);
      WHET_CHECK_CLOSE(std::string("signed ") + dtype_name(from) + " -> " + dtype_name(to), out,
                       cast_cpu(src, to), Tol{0, 0});
    }
  }
}

TEST_CASE("cuda: fill and arange match the CPU") {
  for (DType dt : kAllDTypes) {
    std::vector<double> fills = {0, 1, 3.5, 200};
    if (dt != DType::u8 && dt != DType::boolean) fills.push_back(-7.25);
    if (is_floating(dt)) fills.push_back(1e-3);
    for (double v : fills) {
      for (int64_t n : sizes()) {
        Tensor out = poisoned({n}, dt);
        gpu().fill(out, v);
        Tensor expected = Tensor::empty({n}, dt);
        cpu().fill(expected, v);
        std::string what = std::string("fill ") + dtype_name(dt) + " " + std::to_string(v);
        WHET_CHECK_CLOSE(what, out, expected, Tol{0, 0});
        Tensor mis = poisoned({n + 1}, dt).slice(1, n + 1);  // not 16-byte aligned
        gpu().fill(mis, v);
        WHET_CHECK_CLOSE(what + " (misaligned)", mis, expected, Tol{0, 0});
      }
    }
  }
  for (DType dt :
       {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8}) {
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(200), int64_t(4097), int64_t(100003)}) {
      if (dt == DType::u8 && n > 200) continue;  // u8 holds [0, 255]
      double start = dt == DType::u8 ? 0 : -3.25, step = dt == DType::u8 ? 1 : 0.75;
      Tensor out = poisoned({n}, dt);
      gpu().arange(out, start, step);
      Tensor expected = Tensor::empty({n}, dt);
      cpu().arange(expected, start, step);
      WHET_CHECK_CLOSE(std::string("arange ") + dtype_name(dt) + " n=" + std::to_string(n), out,
                       expected, Tol{0, 0});
    }
  }
}
