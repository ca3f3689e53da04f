#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "data/image_codec.h"
#include "data/sample_rng.h"

namespace whet::data {

namespace {

void check_image(const Tensor& img, const char* op) {
  WHET_CHECK(img.defined() && img.dim() == 3, op, ": needs an (H, W, C) image, got ",
             img.defined() ? shape_str(img.shape()) : "an undefined tensor");
  WHET_CHECK(img.dtype() == DType::u8 || img.dtype() == DType::f32, op,
             ": needs uint8 or float32, got ", dtype_name(img.dtype()));
  WHET_CHECK(img.device().is_cpu(), op, ": images are transformed on the CPU");
}

// Calls f(TypeTag<T>) for the image's element type (uint8 or float).
template <class F>
void with_pixel_type(const Tensor& img, F&& f) {
  if (img.dtype() == DType::u8)
    f(TypeTag<uint8_t>{});
  else
    f(TypeTag<float>{});
}

template <class T>
T store(float v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return uint8_t(std::clamp(std::nearbyint(v), 0.0f, 255.0f));
  } else {
    return v;
  }
}

// One axis of PyTorch's upsample_bilinear2d (align_corners=False): the two source indices
// and their weights for each output index, computed in float as PyTorch does for float.
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> w0, w1;
};

Taps bilinear_taps(int64_t in, int64_t out) {
  Taps t;
  float scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = std::max(scale * (float(d) + 0.5f) - 0.5f, 0.0f);
    int64_t i0 = std::min(int64_t(src), in - 1);
    int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    float l1 = src - float(i0);
    t.i0.push_back(i0), t.i1.push_back(i1), t.w0.push_back(1.0f - l1), t.w1.push_back(l1);
  }
  return t;
}

}  // namespace

Tensor resize_bilinear(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                       int64_t out_h, int64_t out_w) {
  check_image(img, "resize");
  WHET_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= img.size(0) &&
                 left + width <= img.size(1),
             "resize: box (top ", top, ", left ", left, ", ", height, "x", width,
             ") is outside the ", shape_str(img.shape()), " image");
  WHET_CHECK(out_h > 0 && out_w > 0, "resize: output size ", out_h, "x", out_w);
  int64_t C = img.size(2), W = img.size(1);
  Taps ty = bilinear_taps(height, out_h), tx = bilinear_taps(width, out_w);
  Tensor out = Tensor::empty({out_h, out_w, C}, img.dtype());
  with_pixel_type(img, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = img.data<T>();
    T* o = out.data<T>();
    for (int64_t y = 0; y < out_h; ++y) {
      const T* row0 = s + ((top + ty.i0[y]) * W + left) * C;
      const T* row1 = s + ((top + ty.i1[y]) * W + left) * C;
      for (int64_t x = 0; x < out_w; ++x) {
        const T *p00 = row0 + tx.i0[x] * C, *p01 = row0 + tx.i1[x] * C;
        const T *p10 = row1 + tx.i0[x] * C, *p11 = row1 + tx.i1[x] * C;
        for (int64_t c = 0; c < C; ++c) {
          float a = tx.w0[x] * float(p00[c]) + tx.w1[x] * float(p01[c]);
          float b = tx.w0[x] * float(p10[c]) + tx.w1[x] * float(p11[c]);
          *o++ = store<T>(ty.w0[y] * a + ty.w1[y] * b);
        }
      }
    }
  });
  return out;
}

Compose::Compose(std::vector<TransformPtr> steps) : steps_(std::move(steps)) {
  for (const auto& s : steps_) WHET_CHECK(s != nullptr, "Compose: a null transform");
}

Tensor Compose::apply(const Tensor& img, Generator& gen) const {
  Tensor x = img;
  for (const auto& s : steps_) x = s->apply(x, gen);
  return x;
}

std::string Compose::describe() const {
  std::string out = "Compose(";
  for (size_t i = 0; i < steps_.size(); ++i) out += (i ? ", " : "") + steps_[i]->describe();
  return out + ")";
}

Resize::Resize(int64_t size) : height_(size), width_(size), shorter_edge_(true) {
  WHET_CHECK(size > 0, "Resize: size must be positive, got ", size);
}

Resize::Resize(int64_t height, int64_t width)
    : height_(height), width_(width), shorter_edge_(false) {
  WHET_CHECK(height > 0 && width > 0, "Resize: size ", height, "x", width);
}

Tensor Resize::apply(const Tensor& img, Generator&) const {
  check_image(img, "Resize");
  int64_t h = img.size(0), w = img.size(1), out_h = height_, out_w = width_;
  if (shorter_edge_) {
    // torchvision: the long edge is int(size * long / short), truncated.
    if (h <= w)
      out_w = int64_t(double(height_) * double(w) / double(h));
    else
      out_h = int64_t(double(width_) * double(h) / double(w));
  }
  if (out_h == h && out_w == w) return img;
  return resize_bilinear(img, 0, 0, h, w, out_h, out_w);
}

std::string Resize::describe() const {
  if (shorter_edge_) return detail::cat("Resize(", height_, ")");
  return detail::cat("Resize(", height_, ", ", width_, ")");
}

RandomResizedCrop::RandomResizedCrop(int64_t size, double scale_min, double scale_max,
                                     double ratio_min, double ratio_max)
    : size_(size),
      scale_min_(scale_min),
      scale_max_(scale_max),
      ratio_min_(ratio_min),
      ratio_max_(ratio_max) {
  WHET_CHECK(size > 0, "RandomResizedCrop: size must be positive, got ", size);
  WHET_CHECK(0 < scale_min && scale_min <= scale_max && scale_max <= 1.0,
             "RandomResizedCrop: scale (", scale_min, ", ", scale_max, ") must lie in (0, 1]");
  WHET_CHECK(0 < ratio_min && ratio_min <= ratio_max, "RandomResizedCrop: ratio (", ratio_min, ", ",
             ratio_max, ")");
}

RandomResizedCrop::Box RandomResizedCrop::sample_box(int64_t height, int64_t width,
                                                     Generator& gen) const {
  double area = double(height) * double(width);
  double log_lo = std::log(ratio_min_), log_hi = std::log(ratio_max_);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target = area * uniform(gen, scale_min_, scale_max_);
    double aspect = std::exp(uniform(gen, log_lo, log_hi));
    // Python's round() is half to even, as nearbyint in the default rounding mode.
    int64_t w = int64_t(std::nearbyint(std::sqrt(target * aspect)));
    int64_t h = int64_t(std::nearbyint(std::sqrt(target / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      int64_t top = randint(gen, 0, height - h + 1);
      int64_t left = randint(gen, 0, width - w + 1);
      return {top, left, h, w};
    }
  }
  double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_min_)
    h = int64_t(std::nearbyint(double(w) / ratio_min_));
  else if (in_ratio > ratio_max_)
    w = int64_t(std::nearbyint(double(h) * ratio_max_));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Tensor RandomResizedCrop::apply(const Tensor& img, Generator& gen) const {
  check_image(img, "RandomResizedCrop");
  Box b = sample_box(img.size(0), img.size(1), gen);
  return resize_bilinear(img, b.top, b.left, b.height, b.width, size_, size_);
}

std::string RandomResizedCrop::describe() const {
  return detail::cat("RandomResizedCrop(", size_, ", scale=(", scale_min_, ", ", scale_max_,
                     "), ratio=(", ratio_min_, ", ", ratio_max_, "))");
}

CenterCrop::CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {
  WHET_CHECK(height > 0 && width > 0, "CenterCrop: size ", height, "x", width);
}

Tensor CenterCrop::apply(const Tensor& img, Generator&) const {
  check_image(img, "CenterCrop");
  int64_t H = img.size(0), W = img.size(1), C = img.size(2);
  if (H == height_ && W == width_) return img;
  // Origin of the crop in image coordinates; negative where torchvision pads first.
  auto origin = [](int64_t in, int64_t crop) {
    return crop <= in ? int64_t(std::nearbyint(double(in - crop) / 2.0)) : -((crop - in) / 2);
  };
  int64_t top = origin(H, height_), left = origin(W, width_);
  Tensor out = Tensor::empty({height_, width_, C}, img.dtype());
  size_t px = dtype_size(img.dtype()) * size_t(C);
  const uint8_t* s = static_cast<const uint8_t*>(img.raw_data());
  uint8_t* o = static_cast<uint8_t*>(out.raw_data());
  std::memset(o, 0, out.nbytes());  // the padding; float zero is all-zero bytes too
  int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(width_, W - left);
  for (int64_t y = std::max<int64_t>(0, -top); y < std::min(height_, H - top); ++y) {
    std::memcpy(o + size_t(y * width_ + x0) * px, s + size_t((top + y) * W + left + x0) * px,
                size_t(x1 - x0) * px);
  }
  return out;
}

std::string CenterCrop::describe() const {
  return detail::cat("CenterCrop(", height_, ", ", width_, ")");
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  WHET_CHECK(p >= 0.0 && p <= 1.0, "RandomHorizontalFlip: p must lie in [0, 1], got ", p);
}

Tensor RandomHorizontalFlip::apply(const Tensor& img, Generator& gen) const {
  check_image(img, "RandomHorizontalFlip");
  // Always draw, so the stream position after this step does not depend on the outcome.
  if (!(uniform(gen) < p_)) return img;
  int64_t H = img.size(0), W = img.size(1);
  size_t px = dtype_size(img.dtype()) * size_t(img.size(2));
  Tensor out = Tensor::empty(img.shape(), img.dtype());
  const uint8_t* s = static_cast<const uint8_t*>(img.raw_data());
  uint8_t* o = static_cast<uint8_t*>(out.raw_data());
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      std::memcpy(o + size_t(y * W + x) * px, s + size_t(y * W + (W - 1 - x)) * px, px);
    }
  }
  return out;
}

std::string RandomHorizontalFlip::describe() const {
  return detail::cat("RandomHorizontalFlip(p=", p_, ")");
}

Tensor ToFloat::apply(const Tensor& img, Generator&) const {
  check_image(img, "ToFloat");
  if (img.dtype() == DType::f32) return img;
  Tensor out = Tensor::empty(img.shape(), DType::f32);
  const uint8_t* s = img.data<uint8_t>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < img.numel(); ++i) o[i] = float(s[i]) / 255.0f;
  return out;
}

Normalize::Normalize(std::vector<float> mean, std::vector<float> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  WHET_CHECK(!mean_.empty() && mean_.size() == std_.size(), "Normalize: ", mean_.size(),
             " means and ", std_.size(), " standard deviations");
  for (float s : std_) WHET_CHECK(s > 0.0f, "Normalize: standard deviation ", s, " <= 0");
}

Normalize Normalize::imagenet() {
  return Normalize({0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
}

Normalize Normalize::imagenet_gray() { return Normalize({0.449f}, {0.226f}); }

Tensor Normalize::apply(const Tensor& img, Generator&) const {
  check_image(img, "Normalize");
  WHET_CHECK(img.dtype() == DType::f32, "Normalize: needs a float32 image (add ToFloat first)");
  int64_t C = img.size(2);
  WHET_CHECK(C == int64_t(mean_.size()), "Normalize: ", mean_.size(),
             " channel statistics for an image of ", C, " channels (add ToChannels first)");
  Tensor out = Tensor::empty(img.shape(), DType::f32);
  const float* s = img.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < img.numel(); i += C) {
    for (int64_t c = 0; c < C; ++c) o[i + c] = (s[i + c] - mean_[size_t(c)]) / std_[size_t(c)];
  }
  return out;
}

std::string Normalize::describe() const {
  std::string out = "Normalize(mean=(";
  for (size_t c = 0; c < mean_.size(); ++c) out += detail::cat(c ? ", " : "", mean_[c]);
  out += "), std=(";
  for (size_t c = 0; c < std_.size(); ++c) out += detail::cat(c ? ", " : "", std_[c]);
  return out + "))";
}

ToChannels::ToChannels(int channels) : channels_(channels) {
  WHET_CHECK(channels == 1 || channels == 3, "ToChannels: 1 or 3 channels, got ", channels);
}

Tensor ToChannels::apply(const Tensor& img, Generator&) const {
  check_image(img, "ToChannels");
  int64_t C = img.size(2);
  if (C == channels_) return img;
  if (img.dtype() == DType::u8) return convert_channels(img, channels_);
  WHET_CHECK(C >= 1 && C <= 4, "ToChannels: ", C, " channels");
  int64_t pixels = img.size(0) * img.size(1);
  Tensor out = Tensor::empty({img.size(0), img.size(1), channels_}, DType::f32);
  const float* s = img.data<float>();
  float* o = out.data<float>();
  bool color_in = C >= 3;
  for (int64_t i = 0; i < pixels; ++i, s += C) {
    if (channels_ == 3) {
      *o++ = s[0], *o++ = color_in ? s[1] : s[0], *o++ = color_in ? s[2] : s[0];
    } else {
      *o++ = color_in ? 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2] : s[0];
    }
  }
  return out;
}

std::string ToChannels::describe() const { return detail::cat("ToChannels(", channels_, ")"); }

std::shared_ptr<Compose> train_transform(int64_t size, int channels) {
  std::vector<TransformPtr> steps = {
      std::make_shared<RandomResizedCrop>(size), std::make_shared<RandomHorizontalFlip>(),
      std::make_shared<ToFloat>(), std::make_shared<ToChannels>(channels)};
  steps.push_back(std::make_shared<Normalize>(channels == 3 ? Normalize::imagenet()
                                                            : Normalize::imagenet_gray()));
  return std::make_shared<Compose>(std::move(steps));
}

std::shared_ptr<Compose> eval_transform(int64_t size, int channels) {
  std::vector<TransformPtr> steps = {
      std::make_shared<Resize>(size * 256 / 224), std::make_shared<CenterCrop>(size),
      std::make_shared<ToFloat>(), std::make_shared<ToChannels>(channels)};
  steps.push_back(std::make_shared<Normalize>(channels == 3 ? Normalize::imagenet()
                                                            : Normalize::imagenet_gray()));
  return std::make_shared<Compose>(std::move(steps));
}

}  // namespace whet::data
