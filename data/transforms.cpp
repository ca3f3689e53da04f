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

// One axis of a separable resampling: output index d is the sum over j < count[d] of
// w[d * width + j] * input[idx[d * width + j]], taken in that order.
struct Taps {
  int64_t width = 0;  // the most inputs one output reads
  std::vector<int64_t> idx, count;
  std::vector<float> w;
};

// PyTorch's upsample_bilinear2d (align_corners=False): source coordinate (d + 0.5) * in / out
// - 0.5, clamped at 0; the two neighbours (the same one twice at the last index, as PyTorch)
// and their weights, in float as PyTorch computes for float.
Taps bilinear_taps(int64_t in, int64_t out) {
  Taps t;
  t.width = 2;
  const float scale = float(in) / float(out);
  for (int64_t d = 0; d < out; ++d) {
    const float src = std::max(scale * (float(d) + 0.5f) - 0.5f, 0.0f);
    const int64_t i0 = std::min(int64_t(src), in - 1);
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const float l1 = src - float(i0);
    t.idx.insert(t.idx.end(), {i0, i1});
    t.w.insert(t.w.end(), {1.0f - l1, l1});
    t.count.push_back(2);
  }
  return t;
}

// PyTorch's antialiased bilinear (upsample_bilinear2d_aa, PIL's algorithm): output d averages
// the inputs under a triangle filter centred at (d + 0.5) * scale and stretched by the
// downscale factor (support 1 when upscaling), the weights normalised to sum to 1.
Taps antialias_taps(int64_t in, int64_t out) {
  const float scale = float(in) / float(out);
  const float support = scale >= 1.0f ? scale : 1.0f;
  const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  Taps t;
  t.width = int64_t(std::ceil(support)) * 2 + 1;
  for (int64_t d = 0; d < out; ++d) {
    const float center = scale * (float(d) + 0.5f);
    const int64_t lo = std::max(int64_t(center - support + 0.5f), int64_t(0));
    const int64_t n = std::min(int64_t(center + support + 0.5f), in) - lo;
    t.w.resize(t.w.size() + size_t(t.width), 0.0f);  // this output's row, zero-padded
    float* w = t.w.data() + d * t.width;
    float total = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      w[j] = std::max(0.0f, 1.0f - std::abs((float(j + lo) - center + 0.5f) * invscale));
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < n; ++j) w[j] /= total;
    for (int64_t j = 0; j < t.width; ++j)
      t.idx.push_back(lo + std::min(j, std::max<int64_t>(n - 1, 0)));
    t.count.push_back(n);
  }
  return t;
}

Taps taps_for(int64_t in, int64_t out, bool antialias) {
  return antialias ? antialias_taps(in, out) : bilinear_taps(in, out);
}

// sum_j w[j] * v(idx[j]) over output d's taps, in order, in float.
template <class V>
inline float weighted(const Taps& t, int64_t d, V&& v) {
  const int64_t* idx = t.idx.data() + d * t.width;
  const float* w = t.w.data() + d * t.width;
  float acc = w[0] * v(idx[0]);
  for (int64_t j = 1; j < t.count[size_t(d)]; ++j) acc += w[j] * v(idx[j]);
  return acc;
}

}  // namespace

Tensor resize_bilinear(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                       int64_t out_h, int64_t out_w, Antialias aa) {
  check_image(img, "resize");
  WHET_CHECK(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= img.size(0) &&
                 left + width <= img.size(1),
             "resize: box (top ", top, ", left ", left, ", ", height, "x", width,
             ") is outside the ", shape_str(img.shape()), " image");
  WHET_CHECK(out_h > 0 && out_w > 0, "resize: output size ", out_h, "x", out_w);
  const int64_t C = img.size(2), W = img.size(1);
  // Separable, as PyTorch: along the width first (rows of the box into float), then along
  // the height. An axis whose size does not change is copied, not filtered.
  const bool along_w = width != out_w, along_h = height != out_h;
  const bool antialias = aa == Antialias::on;
  const Taps tx = taps_for(width, out_w, antialias), ty = taps_for(height, out_h, antialias);
  // Rows of the box the height pass reads (every row when it does not filter).
  std::vector<char> needed(size_t(height), along_h ? 0 : 1);
  if (along_h)
    for (int64_t d = 0; d < out_h; ++d)
      for (int64_t j = 0; j < ty.count[size_t(d)]; ++j)
        needed[size_t(ty.idx[d * ty.width + j])] = 1;
  std::vector<float> rows(size_t(height * out_w * C));  // (height, out_w, C)
  Tensor out = Tensor::empty({out_h, out_w, C}, img.dtype());
  with_pixel_type(img, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = img.data<T>();
    for (int64_t y = 0; y < height; ++y) {
      if (!needed[size_t(y)]) continue;
      const T* src = s + ((top + y) * W + left) * C;
      float* dst = rows.data() + y * out_w * C;
      for (int64_t x = 0; x < out_w; ++x)
        for (int64_t c = 0; c < C; ++c)
          dst[x * C + c] = along_w
                               ? weighted(tx, x, [&](int64_t i) { return float(src[i * C + c]); })
                               : float(src[x * C + c]);
    }
    T* o = out.data<T>();
    const int64_t row = out_w * C;
    for (int64_t y = 0; y < out_h; ++y)
      for (int64_t k = 0; k < row; ++k)
        o[y * row + k] =
            store<T>(along_h ? weighted(ty, y, [&](int64_t i) { return rows[size_t(i * row + k)]; })
                             : rows[size_t(y * row + k)]);
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

Resize::Resize(int64_t size, Antialias aa)
    : height_(size), width_(size), shorter_edge_(true), aa_(aa) {
  WHET_CHECK(size > 0, "Resize: size must be positive, got ", size);
}

Resize::Resize(int64_t height, int64_t width, Antialias aa)
    : height_(height), width_(width), shorter_edge_(false), aa_(aa) {
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
  return resize_bilinear(img, 0, 0, h, w, out_h, out_w, aa_);
}

std::string Resize::describe() const {
  const char* aa = aa_ == Antialias::on ? "" : ", antialias=False";
  if (shorter_edge_) return detail::cat("Resize(", height_, aa, ")");
  return detail::cat("Resize(", height_, ", ", width_, aa, ")");
}

RandomResizedCrop::RandomResizedCrop(int64_t size, double scale_min, double scale_max,
                                     double ratio_min, double ratio_max, Antialias aa)
    : size_(size),
      scale_min_(scale_min),
      scale_max_(scale_max),
      ratio_min_(ratio_min),
      ratio_max_(ratio_max),
      aa_(aa) {
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
  return resize_bilinear(img, b.top, b.left, b.height, b.width, size_, size_, aa_);
}

std::string RandomResizedCrop::describe() const {
  return detail::cat("RandomResizedCrop(", size_, ", scale=(", scale_min_, ", ", scale_max_,
                     "), ratio=(", ratio_min_, ", ", ratio_max_, ")",
                     aa_ == Antialias::on ? "" : ", antialias=False", ")");
}

CenterCrop::CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {
  WHET_CHECK(height > 0 && width > 0, "CenterCrop: size ", height, "x", width);
}

namespace {
// The (height, width) window of img whose top-left corner is (top, left) in image
// coordinates, which may lie outside the image: what falls outside is zero (torchvision's
// constant padding).
Tensor crop_padded(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  const int64_t H = img.size(0), W = img.size(1), C = img.size(2);
  Tensor out = Tensor::empty({height, width, C}, img.dtype());
  const size_t px = dtype_size(img.dtype()) * size_t(C);
  const uint8_t* s = static_cast<const uint8_t*>(img.raw_data());
  uint8_t* o = static_cast<uint8_t*>(out.raw_data());
  std::memset(o, 0, out.nbytes());  // the padding; float zero is all-zero bytes too
  const int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(width, W - left);
  if (x1 <= x0) return out;
  for (int64_t y = std::max<int64_t>(0, -top); y < std::min(height, H - top); ++y) {
    std::memcpy(o + size_t(y * width + x0) * px, s + size_t((top + y) * W + left + x0) * px,
                size_t(x1 - x0) * px);
  }
  return out;
}
}  // namespace

Tensor CenterCrop::apply(const Tensor& img, Generator&) const {
  check_image(img, "CenterCrop");
  const int64_t H = img.size(0), W = img.size(1);
  if (H == height_ && W == width_) return img;
  // Origin of the crop in image coordinates; negative where torchvision pads first.
  auto origin = [](int64_t in, int64_t crop) {
    return crop <= in ? int64_t(std::nearbyint(double(in - crop) / 2.0)) : -((crop - in) / 2);
  };
  return crop_padded(img, origin(H, height_), origin(W, width_), height_, width_);
}

RandomCrop::RandomCrop(int64_t size, int64_t padding) : size_(size), padding_(padding) {
  WHET_CHECK(size > 0 && padding >= 0, "RandomCrop: size ", size, " and padding ", padding,
             " must be positive and >= 0");
}

Tensor RandomCrop::apply(const Tensor& img, Generator& gen) const {
  check_image(img, "RandomCrop");
  const int64_t H = img.size(0) + 2 * padding_, W = img.size(1) + 2 * padding_;
  WHET_CHECK(size_ <= H && size_ <= W, "RandomCrop: a ", size_, "x", size_, " crop of a ",
             shape_str(img.shape()), " image padded by ", padding_);
  const int64_t top = randint(gen, 0, H - size_ + 1), left = randint(gen, 0, W - size_ + 1);
  return crop_padded(img, top - padding_, left - padding_, size_, size_);
}

std::string RandomCrop::describe() const {
  return detail::cat("RandomCrop(", size_, ", padding=", padding_, ")");
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
  const int64_t n = img.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = float(s[i]) / 255.0f;
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
  const int64_t n = img.numel();
  for (int64_t i = 0; i < n; i += C) {
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
