#include "tests/gpu/gpu_test_util.h"

#include <algorithm>

#ifdef WHET_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/context.cuh"
#endif

namespace whet::gputest {

Tensor poisoned(const Shape& s, DType dt) {
  Tensor t = Tensor::empty(s, dt, dev());
#ifdef WHET_WITH_CUDA
  int byte = is_floating(dt) || dt == DType::boolean ? 0xFF : 0xA5;
  // On the context's stream, where the block's previous user and the next kernel both run.
  if (t.nbytes())
    REQUIRE(cudaMemsetAsync(t.raw_data(), byte, t.nbytes(), cuda::Context::get(0).stream()) ==
            cudaSuccess);
#endif
  return t;
}

Tensor to_gpu(const Tensor& host) {
  Tensor d = Tensor::empty(host.shape(), host.dtype(), dev());
  gpu().copy(host, d);
  return d;
}

Tensor to_host(const Tensor& t) {
  Tensor h = Tensor::empty(t.shape(), t.dtype());
  gpu().copy(t, h);
  return h;
}

Tensor cast_cpu(const Tensor& host, DType dt) {
  if (host.dtype() == dt) return host;
  Tensor out = Tensor::empty(host.shape(), dt);
  cpu().copy(host, out);
  return out;
}

Tensor uniform_cpu(const Shape& s, DType dt, double lo, double hi, uint64_t seed) {
  Tensor t = Tensor::empty(s, DType::f64);
  cpu().random(t, RandomKind::uniform, lo, hi, seed, 0);
  return cast_cpu(t, dt);
}

Tensor randint_cpu(const Shape& s, DType dt, int64_t lo, int64_t hi, uint64_t seed) {
  Tensor t = Tensor::empty(s, DType::i64);
  cpu().random(t, RandomKind::randint, double(lo), double(hi), seed, 0);
  return cast_cpu(t, dt);
}

Tensor misaligned_gpu(const Tensor& host) {
  int64_t n = host.numel();
  Tensor storage = poisoned({n + 1}, host.dtype());
  Tensor view = storage.slice(1, n + 1);
  gpu().copy(host.reshape({n}), view);
  return view;
}

std::vector<double> values(const Tensor& t) {
  Tensor h = t.device().is_cpu() ? t : to_host(t);
  std::vector<double> out(size_t(h.numel()));
  dispatch(h.dtype(), "values", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = h.data<T>();
    if constexpr (std::is_same_v<T, bool>) {
      // Read the byte: a poisoned bool (0xFF) must not pass as `true`.
      const auto* b = reinterpret_cast<const uint8_t*>(p);
      for (size_t i = 0; i < out.size(); ++i) out[i] = b[i] <= 1 ? double(b[i]) : NAN;
    } else {
      for (size_t i = 0; i < out.size(); ++i) out[i] = double(cast_value<double>(p[i]));
    }
  });
  return out;
}

Tol tolerance(DType dt) {
  switch (dt) {
    case DType::f32:
      return {1.3e-6, 1e-5};
    case DType::f64:
      return {1e-10, 1e-12};
    case DType::f16:
      return {1e-3, 1e-5};
    case DType::bf16:
      return {1.6e-2, 1e-5};
    default:
      return {0, 0};
  }
}

std::string mismatch(const std::vector<double>& a, const std::vector<double>& e, Tol tol) {
  if (a.size() != e.size()) {
    std::ostringstream os;
    os << a.size() << " values, expected " << e.size();
    return os.str();
  }
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::abs(a[i] - e[i]), allowed = tol.atol + tol.rtol * std::abs(e[i]);
    bool ok = !std::isnan(a[i]) && (a[i] == e[i] || err <= allowed);
    if (std::isnan(e[i]) && !std::isnan(a[i])) ok = false;
    if (ok) continue;
    ++bad;
    double excess = std::isnan(err) ? INFINITY : err - allowed;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (!bad) return {};
  std::ostringstream os;
  os.precision(10);
  os << bad << " of " << a.size() << " elements differ; worst at " << worst << ": got " << a[worst]
     << ", expected " << e[worst] << " (rtol " << tol.rtol << ", atol " << tol.atol << ")";
  return os.str();
}

}  // namespace whet::gputest
