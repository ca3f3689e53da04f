// Training augmentations beyond crops and flips, as torchvision.transforms:
//
//   ColorJitter(b, c, s)  brightness, contrast and saturation factors drawn uniformly from
//                         [max(0, 1 - x), 1 + x], applied in a random order (torchvision
//                         draws a permutation too); on float32 images in [0, 1] (after
//                         ToFloat), clamped to [0, 1]. Hue is not jittered.
//     brightness  x * f
//     contrast    (x - m) * f + m, m the mean of the image's grayscale (PIL luma weights)
//     saturation  (x - g) * f + g, g the pixel's grayscale; a 1-channel image is unchanged
//   RandomErasing(p)     with probability p, a rectangle of 2-33% of the image with aspect
//                         ratio in [0.3, 3.3] (log-uniform) is set to 0 (up to 10 tries to
//                         fit it, as torchvision); on normalised float32 images, where 0 is
//                         the dataset mean.
//
// Both draw from the sample's stream (data/sample_rng.h) a fixed number of times whatever
// the outcome, so the steps after them see the same stream position.
#pragma once
#include "data/transforms.h"

namespace whet::data {

class ColorJitter : public Transform {
 public:
  ColorJitter(double brightness, double contrast, double saturation);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  double brightness_, contrast_, saturation_;
};

class RandomErasing : public Transform {
 public:
  explicit RandomErasing(double p = 0.5);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string describe() const override;

 private:
  double p_;
};

}  // namespace whet::data
