// The training loss of a run (--loss, --label-smoothing) over logits (N, K) and int64 labels
// (N), the batch mean:
//   ce    F.cross_entropy(logits, labels, label_smoothing=s)
//   mse   F.mse_loss(logits, t)                      t = one_hot(labels) * (1 - s) + s / K
//   bce   F.binary_cross_entropy_with_logits(logits, t), t as for mse
// (mse and bce average over all N * K elements, as PyTorch's reduction="mean".)
// With class weights w (K), ce is F.cross_entropy(..., weight=w): sum_i w[y_i] loss_i /
// sum_i w[y_i].
#pragma once
#include <string>

#include "core/tensor.h"
#include "data/dataset.h"

namespace whet::train {

class Criterion {
 public:
  // class_weight: undefined, or (K) float32 on the logits' device (ce only).
  Criterion(std::string kind, int64_t num_classes, double label_smoothing,
            Tensor class_weight = Tensor());
  // training false: the plain loss, without label smoothing or class weights (validation
  // reports it so, comparable across runs).
  Tensor operator()(const Tensor& logits, const Tensor& labels, bool training = true) const;
  // The training loss on blended targets (data/mix.h): lam for `labels`, 1 - lam for
  // `other`. ce: lam * ce(labels) + (1 - lam) * ce(other), which is the cross-entropy of the
  // blended (smoothed) distributions; mse and bce: against the blended targets.
  Tensor mixed(const Tensor& logits, const Tensor& labels, const Tensor& other, double lam) const;

 private:
  std::string kind_;
  int64_t num_classes_;
  double smoothing_;
  Tensor class_weight_;

  Tensor targets(const Tensor& labels, DType dtype, double smoothing) const;  // mse and bce
};

// --class-weights: "balanced" gives class c the weight n / (K * count_c) over the training
// set (scikit-learn's "balanced"); else K positive numbers "w0,w1,...". (K) float32 on the CPU.
// Errors name the flag, and the class when one has no training image.
Tensor class_weights_for(const std::string& spec, const data::Dataset& train, int64_t num_classes);

// (N, K) one-hot rows of the labels, in `dtype`, on the labels' device.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::f32);

}  // namespace whet::train
