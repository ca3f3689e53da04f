// Per-sample image transforms, as torchvision.transforms, on (H, W, C) tensors (uint8 or
// float32; NHWC all the way, so nothing is transposed). Each takes the sample's own random
// stream (data/sample_rng.h), derived from (seed, epoch, index): results do not depend on
// which worker thread runs them. Transforms are immutable and safe to share between threads.
//
//   Compose train({std::make_shared<RandomResizedCrop>(224),
//                  std::make_shared<RandomHorizontalFlip>(), std::make_shared<ToFloat>(),
//                  std::make_shared<Normalize>(Normalize::imagenet())});
//
// or the presets train_transform / eval_transform below, which are torchvision's ImageNet
// recipe.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace whet::data {

class Transform {
 public:
  virtual ~Transform() = default;
  // img (H, W, C) uint8 or float32 -> a new tensor; the input is never modified.
  virtual Tensor apply(const Tensor& img, Generator& gen) const = 0;
  virtual std::string describe() const = 0;  // "Resize(256)"
};

using TransformPtr = std::shared_ptr<const Transform>;

class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> steps);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;  // "Compose(Resize(256), CenterCrop(224), ...)"
  const std::vector<TransformPtr>& steps() const { return steps_; }

 private:
  std::vector<TransformPtr> steps_;
};

// Whether bilinear resizing averages over the footprint of each output pixel when it
// shrinks an image (torchvision's default, antialias=True, and what its PIL path does), or
// reads only the two nearest inputs per axis (antialias=False), which aliases on a large
// downscale.
enum class Antialias { off, on };

// Bilinear resizing with torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False, antialias=...) semantics. Off: source coordinate (dst + 0.5) * in /
// out - 0.5, clamped at 0, and its two neighbours. On: a triangle filter stretched by the
// downscale factor (upsample_bilinear2d_aa, PIL's algorithm); upscaling reads two inputs as
// off does. Separable: along the width, then the height, in float; an axis of unchanged size
// is not filtered. uint8 stays uint8 (computed in float, rounded to nearest, ties to even as
// torch.round; torch's own uint8 path uses integer weights and can differ by 1); float
// stays float.
// Resize(size): the shorter edge becomes `size`, the longer int(size * long / short) (as
// torchvision); Resize(h, w): exactly (h, w).
class Resize : public Transform {
 public:
  explicit Resize(int64_t size, Antialias aa = Antialias::on);
  Resize(int64_t height, int64_t width, Antialias aa = Antialias::on);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  int64_t height_, width_;
  bool shorter_edge_;
  Antialias aa_;
};

// torchvision's RandomResizedCrop: up to 10 tries of an area fraction uniform in `scale` and
// an aspect ratio log-uniform in `ratio`; the first crop that fits is taken at a uniform
// position, else a center crop clamped to the ratio range. Then a bilinear resize of the crop
// to (size, size) as Resize.
class RandomResizedCrop : public Transform {
 public:
  explicit RandomResizedCrop(int64_t size, double scale_min = 0.08, double scale_max = 1.0,
                             double ratio_min = 3.0 / 4.0, double ratio_max = 4.0 / 3.0,
                             Antialias aa = Antialias::on);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

  struct Box {
    int64_t top, left, height, width;
  };
  // The crop box for an image of (height, width), drawing from gen (exposed for tests).
  Box sample_box(int64_t height, int64_t width, Generator& gen) const;

 private:
  int64_t size_;
  double scale_min_, scale_max_, ratio_min_, ratio_max_;
  Antialias aa_;
};

// torchvision's CenterCrop: top = round((H - h) / 2), left likewise (Python's rounding);
// a crop larger than the image pads with zeros, the image centred as torchvision pads.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(int64_t size) : CenterCrop(size, size) {}
  CenterCrop(int64_t height, int64_t width);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  int64_t height_, width_;
};

// torchvision's RandomCrop(size, padding): the image padded with `padding` zeros on every
// side, then a size x size window at a uniform position (two draws: top, then left). The
// augmentation of small-image recipes (CIFAR, Fashion-MNIST: padding 4). The padded image
// must hold the window.
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(int64_t size, int64_t padding = 0);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  int64_t size_, padding_;
};

// Mirrors left-right with probability p (one uniform draw: flip when u < p, as torchvision).
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  double p_;
};

// uint8 -> float32 in [0, 1] (x / 255), as ToTensor / ToDtype(scale=True); float passes.
class ToFloat : public Transform {
 public:
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override { return "ToFloat()"; }
};

// (x - mean[c]) / std[c] on float32 images with as many channels as mean and std entries.
class Normalize : public Transform {
 public:
  Normalize(std::vector<float> mean, std::vector<float> std);
  static Normalize imagenet();       // mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
  static Normalize imagenet_gray();  // their averages: mean 0.449, std 0.226
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  std::vector<float> mean_, std_;
};

// Channel count for the model: 1 -> 3 repeats gray (Grayscale(num_output_channels=3) in
// reverse; how Fashion-MNIST feeds an ImageNet backbone), 3 -> 1 is PIL's luma, 4 -> 3 drops
// alpha. Works on uint8 and float32; a matching count passes unchanged.
class ToChannels : public Transform {
 public:
  explicit ToChannels(int channels);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  int channels_;
};

// torchvision's ImageNet recipes for a model input of size x size:
//   train: RandomResizedCrop(size), RandomHorizontalFlip(), ToFloat, [ToChannels], Normalize
//   eval:  Resize(size * 256 / 224), CenterCrop(size), ToFloat, [ToChannels], Normalize
// ToChannels(channels) makes gray inputs fit 3-channel models (and the reverse). Normalize uses
// the ImageNet statistics; for 1 channel, their averages (mean 0.449, std 0.226).
std::shared_ptr<Compose> train_transform(int64_t size, int channels = 3);
std::shared_ptr<Compose> eval_transform(int64_t size, int channels = 3);

// The bilinear kernel behind Resize and RandomResizedCrop: resizes the box (top, left,
// height, width) of img to (out_h, out_w). Exposed for tests and previews.
Tensor resize_bilinear(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                       int64_t out_h, int64_t out_w, Antialias aa = Antialias::on);

}  // namespace whet::data
