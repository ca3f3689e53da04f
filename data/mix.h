// Batch mixing for training, as timm's Mixup: pairs image i with image N-1-i of the batch
// (the batch flipped) and blends them,
//   mixup   x_i = lam * x_i + (1 - lam) * x_{N-1-i},   lam ~ Beta(alpha, alpha)
//   cutmix  a box of area (1 - lam) * H * W, centred uniformly and clipped to the image, is
//           cut from x_{N-1-i} into x_i; lam becomes 1 - (clipped box area) / (H * W)
// and the targets blend the same way: lam for labels_i, 1 - lam for labels_{N-1-i}. With both
// enabled, each batch takes one of them with even odds. lam and the box are drawn from the
// stream of (seed, step), so a resumed run mixes as the uninterrupted one did.
#pragma once
#include <cstdint>

#include "core/rng.h"
#include "core/tensor.h"

namespace whet::data {

struct MixOptions {
  double mixup_alpha = 0;   // > 0: mixup with lam ~ Beta(alpha, alpha)
  double cutmix_alpha = 0;  // > 0: cutmix with lam ~ Beta(alpha, alpha)
  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

struct MixedBatch {
  Tensor images;       // (N, H, W, C) float32, the blended batch
  Tensor other_labels;  // (N) int64: labels of the partner images (the batch flipped)
  double lam = 1;       // the weight of each image's own label
  bool cutmix = false;  // which of the two was applied
};

// images (N, H, W, C) float32 and labels (N) int64 on the CPU; the inputs are not modified.
MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const MixOptions& o,
                     uint64_t seed, int64_t step);

// A Beta(alpha, alpha) draw from g (two Gamma draws, Marsaglia and Tsang's method).
double sample_beta(double alpha, Generator& g);

}  // namespace whet::data
