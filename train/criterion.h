// The training loss of a run (--loss, --label-smoothing) over logits (N, K) and int64 labels
// (N), the batch mean:
//   ce    F.cross_entropy(logits, labels, label_smoothing=s)
//   mse   F.mse_loss(logits, t)                      t = one_hot(labels) * (1 - s) + s / K
//   bce   F.binary_cross_entropy_with_logits(logits, t), t as for mse
// (mse and bce average over all N * K elements, as PyTorch's reduction="mean".)
#pragma once
#include <string>

#include "core/tensor.h"

namespace whet::train {

class Criterion {
 public:
  Criterion(std::string kind, int64_t num_classes, double label_smoothing);
  // smoothing false: the loss without label smoothing (validation reports it so).
  Tensor operator()(const Tensor& logits, const Tensor& labels, bool smoothing = true) const;

 private:
  std::string kind_;
  int64_t num_classes_;
  double smoothing_;
};

// (N, K) one-hot rows of the labels, in `dtype`, on the labels' device.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::f32);

}  // namespace whet::train
