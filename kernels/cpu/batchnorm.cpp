// Batch normalisation over channels-last data: x viewed as (M, C), M = N*H*W, normalised per
// channel. Statistics accumulate in double (two passes: mean, then squared deviations), so
// float32 inputs with a large mean or many rows keep full precision.
#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {
constexpr int64_t kRowsPerChunk = 256;
constexpr int64_t kMaxChunks = 64;
constexpr int64_t kRowGrain = 64;

// Per-channel sums over all rows i of each f(i, j) given, from one pass over the rows (so
// whatever the functions read is read once). Rows are split into chunks summed in parallel
// (each chunk reads whole rows, which are contiguous) and the chunk partials are added in a
// fixed order, so the result does not depend on the thread count.
template <class... F>
std::array<std::vector<double>, sizeof...(F)> channel_sums(int64_t m, int64_t c, F... f) {
  constexpr int64_t kSums = sizeof...(F);
  const int64_t chunks = std::clamp<int64_t>(m / kRowsPerChunk, 1, kMaxChunks);
  const int64_t rows = (m + chunks - 1) / chunks;
  std::vector<double> partial(size_t(kSums * chunks * c), 0.0);  // (chunks, sums, C)
  parallel_for(chunks, 1, [&](int64_t k) {
    double* __restrict acc = partial.data() + kSums * k * c;
    const int64_t end = std::min(m, (k + 1) * rows);
    for (int64_t i = k * rows; i < end; ++i)
      for (int64_t j = 0; j < c; ++j) {
        int64_t s = 0;
        ((acc[s++ * c + j] += f(i, j)), ...);
      }
  });
  std::array<std::vector<double>, kSums> total;
  for (int64_t s = 0; s < kSums; ++s) {
    total[size_t(s)].assign(size_t(c), 0.0);
    for (int64_t k = 0; k < chunks; ++k)
      for (int64_t j = 0; j < c; ++j)
        total[size_t(s)][size_t(j)] += partial[size_t((kSums * k + s) * c + j)];
  }
  return total;
}

template <class T>
void batch_norm_typed(const Tensor& x, const Tensor& weight, const Tensor& bias,
                      Tensor& running_mean, Tensor& running_var, bool training, double momentum,
                      double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const int64_t c = x.size(-1), m = c ? x.numel() / c : 0;
  const T* px = x.data<T>();                                    // (M, C)
  T* py = y.data<T>();                                          // (M, C)
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;  // (C)
  const T* pb = bias.defined() ? bias.data<T>() : nullptr;      // (C)
  T* smean = save_mean.data<T>();                               // (C)
  T* sinvstd = save_invstd.data<T>();                           // (C)

  std::vector<double> mean(size_t(c), 0.0), invstd(size_t(c), 0.0);
  if (training) {
    const std::vector<double> sum =
        channel_sums(m, c, [&](int64_t i, int64_t j) { return double(px[i * c + j]); })[0];
    for (int64_t j = 0; j < c; ++j) mean[size_t(j)] = sum[size_t(j)] / double(m);
    const std::vector<double> sq = channel_sums(m, c, [&](int64_t i, int64_t j) {
      const double d = double(px[i * c + j]) - mean[size_t(j)];
      return d * d;
    })[0];
    // Normalisation uses the biased (batch) variance, while the running estimate of the
    // population variance uses the unbiased one, M/(M-1) times larger: PyTorch's convention,
    // which pretrained running statistics assume.
    T* rm = running_mean.defined() ? running_mean.data<T>() : nullptr;  // (C)
    T* rv = running_var.defined() ? running_var.data<T>() : nullptr;    // (C)
    for (int64_t j = 0; j < c; ++j) {
      double var = sq[size_t(j)] / double(m);
      invstd[size_t(j)] = 1.0 / std::sqrt(var + eps);
      if (rm) rm[j] = T((1 - momentum) * double(rm[j]) + momentum * mean[size_t(j)]);
      if (rv && m > 1) {
        double unbiased = sq[size_t(j)] / double(m - 1);
        rv[j] = T((1 - momentum) * double(rv[j]) + momentum * unbiased);
      }
    }
  } else {
    WHET_CHECK(running_mean.defined() && running_var.defined(),
               "batch_norm: evaluation mode needs running_mean and running_var");
    const T* rm = running_mean.data<T>();
    const T* rv = running_var.data<T>();
    for (int64_t j = 0; j < c; ++j) {
      mean[size_t(j)] = double(rm[j]);
      invstd[size_t(j)] = 1.0 / std::sqrt(double(rv[j]) + eps);
    }
  }

  // y = x * scale + shift folds the affine transform into one multiply-add per element.
  std::vector<T> scale(size_t(c), T(0)), shift(size_t(c), T(0));
  for (int64_t j = 0; j < c; ++j) {
    double w = pw ? double(pw[j]) : 1.0, b = pb ? double(pb[j]) : 0.0;
    double s = invstd[size_t(j)] * w;
    scale[size_t(j)] = T(s);
    shift[size_t(j)] = T(b - mean[size_t(j)] * s);
    smean[j] = T(mean[size_t(j)]);
    sinvstd[j] = T(invstd[size_t(j)]);
  }
  parallel_for(m, kRowGrain, [&](int64_t i) {
    const T* xr = px + i * c;
    T* yr = py + i * c;
    for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * scale[size_t(j)] + shift[size_t(j)];
  });
}

// training: gx = invstd*w*(gy - mean(gy) - xhat*mean(gy*xhat)), since mean and invstd depend
// on x; eval: gx = gy*w*invstd. Both: gw = sum(gy*xhat), gb = sum(gy).
template <class T>
void batch_norm_backward_typed(const Tensor& gy, const Tensor& x, const Tensor& weight,
                               const Tensor& save_mean, const Tensor& save_invstd, bool training,
                               Tensor& gx, Tensor& gw, Tensor& gb) {
  const int64_t c = x.size(-1), m = c ? x.numel() / c : 0;
  const T* px = x.data<T>();                                    // (M, C)
  const T* pg = gy.data<T>();                                   // (M, C)
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;  // (C)
  const T* smean = save_mean.data<T>();                         // (C)
  const T* sinvstd = save_invstd.data<T>();                     // (C)

  const bool need_sums = gw.defined() || gb.defined() || (gx.defined() && training);
  std::vector<double> sum_g(size_t(c), 0.0), sum_gxhat(size_t(c), 0.0);
  if (need_sums) {
    auto sums = channel_sums(
        m, c, [&](int64_t i, int64_t j) { return double(pg[i * c + j]); },
        [&](int64_t i, int64_t j) {
          const double xhat = (double(px[i * c + j]) - double(smean[j])) * double(sinvstd[j]);
          return double(pg[i * c + j]) * xhat;
        });
    sum_g = std::move(sums[0]);
    sum_gxhat = std::move(sums[1]);
  }
  if (gw.defined()) {
    T* p = gw.data<T>();
    for (int64_t j = 0; j < c; ++j) p[j] = T(sum_gxhat[size_t(j)]);
  }
  if (gb.defined()) {
    T* p = gb.data<T>();
    for (int64_t j = 0; j < c; ++j) p[j] = T(sum_g[size_t(j)]);
  }
  if (!gx.defined()) return;

  T* po = gx.data<T>();  // (M, C)
  // Per channel: k = invstd * w, and in training the means of gy and gy * xhat.
  std::vector<T> k(size_t(c), T(0)), mean_g(size_t(c), T(0)), mean_gxhat(size_t(c), T(0));
  for (int64_t j = 0; j < c; ++j) {
    k[size_t(j)] = T(double(sinvstd[j]) * (pw ? double(pw[j]) : 1.0));
    mean_g[size_t(j)] = training ? T(sum_g[size_t(j)] / double(m)) : T(0);
    mean_gxhat[size_t(j)] = training ? T(sum_gxhat[size_t(j)] / double(m)) : T(0);
  }
  const T* __restrict kk = k.data();
  const T* __restrict mg = mean_g.data();
  const T* __restrict mgx = mean_gxhat.data();
  if (!training) {
    parallel_for(m, kRowGrain, [&](int64_t i) {
      const T* __restrict gr = pg + i * c;
      T* __restrict outr = po + i * c;
      for (int64_t j = 0; j < c; ++j) outr[j] = kk[j] * gr[j];
    });
    return;
  }
  parallel_for(m, kRowGrain, [&](int64_t i) {
    const T* __restrict xr = px + i * c;
    const T* __restrict gr = pg + i * c;
    T* __restrict outr = po + i * c;
    for (int64_t j = 0; j < c; ++j) {
      const T xhat = (xr[j] - smean[j]) * sinvstd[j];
      outr[j] = kk[j] * (gr[j] - mg[j] - xhat * mgx[j]);
    }
  });
}
}  // namespace

void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                Tensor& running_var, bool training, double momentum, double eps, Tensor& y,
                Tensor& save_mean, Tensor& save_invstd) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    batch_norm_typed<T>(x, weight, bias, running_mean, running_var, training, momentum, eps, y,
                        save_mean, save_invstd);
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         Tensor& gx, Tensor& gw, Tensor& gb) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    batch_norm_backward_typed<T>(gy, x, weight, save_mean, save_invstd, training, gx, gw, gb);
  });
}

}  // namespace whet::cpu
