#include "data/mix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "data/sample_rng.h"

namespace whet::data {

namespace {

double normal(Generator& g) { return philox_normal(philox4x32_10(g.seed(), g.advance(1))); }

// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape).
double sample_gamma(double shape, Generator& g) {
  if (shape < 1) {
    const double u = std::max(uniform(g), 1e-300);
    return sample_gamma(shape + 1, g) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0, v = 0;
    do {
      x = normal(g);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform(g);
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(std::max(u, 1e-300)) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

}  // namespace

double sample_beta(double alpha, Generator& g) {
  WHET_CHECK(alpha > 0, "Beta(", alpha, ", ", alpha, "): alpha must be positive");
  const double a = sample_gamma(alpha, g), b = sample_gamma(alpha, g);
  return a + b > 0 ? a / (a + b) : 0.5;
}

MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const MixOptions& o,
                     uint64_t seed, int64_t step) {
  WHET_CHECK(o.enabled(), "mix_batch: neither mixup nor cutmix is enabled");
  WHET_CHECK(images.dim() == 4 && images.dtype() == DType::f32 && images.device().is_cpu(),
             "mix_batch: images must be (N, H, W, C) float32 on the CPU, got ",
             shape_str(images.shape()));
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2), c = images.size(3);
  WHET_CHECK(labels.dim() == 1 && labels.size(0) == n, "mix_batch: ", n, " images but labels ",
             shape_str(labels.shape()));
  Generator g(stream_key(seed, Stream::mix, uint64_t(step)));
  MixedBatch out;
  out.cutmix = o.cutmix_alpha > 0 && (o.mixup_alpha <= 0 || uniform(g) < 0.5);
  out.lam = sample_beta(out.cutmix ? o.cutmix_alpha : o.mixup_alpha, g);

  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  std::vector<int64_t> other(y.rbegin(), y.rend());
  out.other_labels = Tensor::from_vector(other, {n});
  out.images = images.clone();
  const float* src = images.data<float>();
  float* dst = out.images.data<float>();
  const int64_t per_image = h * w * c;

  if (!out.cutmix) {
    const float a = float(out.lam), b = float(1.0 - out.lam);
    for (int64_t i = 0; i < n; ++i) {
      const float* x = src + i * per_image;
      const float* partner = src + (n - 1 - i) * per_image;
      float* z = dst + i * per_image;
      for (int64_t k = 0; k < per_image; ++k) z[k] = a * x[k] + b * partner[k];
    }
    return out;
  }
  // timm's rand_bbox: a box of sides sqrt(1 - lam) * (H, W) around a uniform centre, clipped.
  const double cut = std::sqrt(1.0 - out.lam);
  const int64_t cut_h = int64_t(double(h) * cut), cut_w = int64_t(double(w) * cut);
  const int64_t cy = randint(g, 0, h), cx = randint(g, 0, w);
  const int64_t y1 = std::clamp<int64_t>(cy - cut_h / 2, 0, h), y2 = std::clamp<int64_t>(cy + cut_h / 2, 0, h);
  const int64_t x1 = std::clamp<int64_t>(cx - cut_w / 2, 0, w), x2 = std::clamp<int64_t>(cx + cut_w / 2, 0, w);
  out.lam = 1.0 - double((y2 - y1) * (x2 - x1)) / double(h * w);
  for (int64_t i = 0; i < n; ++i) {
    const float* partner = src + (n - 1 - i) * per_image;
    float* z = dst + i * per_image;
    for (int64_t row = y1; row < y2; ++row)
      std::memcpy(z + (row * w + x1) * c, partner + (row * w + x1) * c,
                  sizeof(float) * size_t((x2 - x1) * c));
  }
  return out;
}

}  // namespace whet::data
