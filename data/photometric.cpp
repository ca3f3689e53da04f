#include "data/photometric.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/sample_rng.h"

namespace whet::data {

namespace {

void check_float_image(const Tensor& img, const char* op) {
  WHET_CHECK(img.defined() && img.dim() == 3 && img.dtype() == DType::f32 && img.device().is_cpu(),
             op, ": needs an (H, W, C) float32 image on the CPU (place it after ToFloat), got ",
             img.defined() ? shape_str(img.shape()) + " " + dtype_name(img.dtype()) : "none");
}

// PIL's luma (ITU-R 601-2), as torchvision's rgb_to_grayscale.
float gray(const float* px) { return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]; }

}  // namespace

ColorJitter::ColorJitter(double brightness, double contrast, double saturation)
    : brightness_(brightness), contrast_(contrast), saturation_(saturation) {
  for (double x : {brightness, contrast, saturation})
    WHET_CHECK(x >= 0 && std::isfinite(x), "ColorJitter: strengths must be >= 0, got ", x);
}

Tensor ColorJitter::apply(const Tensor& img, Generator& gen) const {
  check_float_image(img, "ColorJitter");
  auto factor = [&](double x) { return float(uniform(gen, std::max(0.0, 1 - x), 1 + x)); };
  const float b = factor(brightness_), c = factor(contrast_), s = factor(saturation_);
  std::vector<int> order = {0, 1, 2};  // brightness, contrast, saturation
  shuffle(order, gen);

  Tensor out = img.clone();
  float* p = out.data<float>();
  const int64_t channels = img.size(2), pixels = img.size(0) * img.size(1), n = pixels * channels;
  const bool rgb = channels == 3;
  for (int step : order) {
    if (step == 0) {
      for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i] * b, 0.0f, 1.0f);
    } else if (step == 1) {
      double sum = 0;
      for (int64_t i = 0; i < pixels; ++i) sum += rgb ? gray(p + i * 3) : p[i * channels];
      const float m = float(sum / double(std::max<int64_t>(pixels, 1)));
      for (int64_t i = 0; i < n; ++i) p[i] = std::clamp((p[i] - m) * c + m, 0.0f, 1.0f);
    } else if (rgb) {
      for (int64_t i = 0; i < pixels; ++i) {
        float* px = p + i * 3;
        const float g = gray(px);
        for (int k = 0; k < 3; ++k) px[k] = std::clamp((px[k] - g) * s + g, 0.0f, 1.0f);
      }
    }
  }
  return out;
}

std::string ColorJitter::describe() const {
  return detail::cat("ColorJitter(brightness=", brightness_, ", contrast=", contrast_,
                     ", saturation=", saturation_, ")");
}

RandomErasing::RandomErasing(double p) : p_(p) {
  WHET_CHECK(p >= 0 && p <= 1, "RandomErasing: p must be in [0, 1], got ", p);
}

Tensor RandomErasing::apply(const Tensor& img, Generator& gen) const {
  check_float_image(img, "RandomErasing");
  const int64_t h = img.size(0), w = img.size(1), c = img.size(2);
  const bool erase = uniform(gen) < p_;
  // All ten tries are drawn, used or not: a fixed number of draws per sample.
  int64_t top = 0, left = 0, eh = 0, ew = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double area = double(h * w) * uniform(gen, 0.02, 0.33);
    const double aspect = std::exp(uniform(gen, std::log(0.3), std::log(3.3)));
    const int64_t th = int64_t(std::lround(std::sqrt(area * aspect)));
    const int64_t tw = int64_t(std::lround(std::sqrt(area / aspect)));
    const double u = uniform(gen), v = uniform(gen);
    if (eh == 0 && th > 0 && tw > 0 && th < h && tw < w) {
      eh = th, ew = tw;
      top = std::min(h - th, int64_t(u * double(h - th + 1)));
      left = std::min(w - tw, int64_t(v * double(w - tw + 1)));
    }
  }
  if (!erase || eh == 0) return img;
  Tensor out = img.clone();
  float* p = out.data<float>();
  for (int64_t y = top; y < top + eh; ++y) std::fill(p + (y * w + left) * c, p + (y * w + left + ew) * c, 0.0f);
  return out;
}

std::string RandomErasing::describe() const { return detail::cat("RandomErasing(p=", p_, ")"); }

}  // namespace whet::data
