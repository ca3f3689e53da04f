#include "train/criterion.h"

#include "core/error.h"
#include "core/ops.h"
#include "nn/loss.h"

namespace whet::train {

Criterion::Criterion(std::string kind, int64_t num_classes, double label_smoothing)
    : kind_(std::move(kind)), num_classes_(num_classes), smoothing_(label_smoothing) {
  WHET_CHECK(kind_ == "ce" || kind_ == "mse" || kind_ == "bce", "unknown loss '", kind_,
             "' (expected ce, mse or bce)");
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  // (N, 1) == (K) broadcasts to (N, K).
  Tensor classes = arange(0, double(num_classes), 1, DType::i64, labels.device());
  return cast(eq(labels.to(DType::i64).unsqueeze(1), classes), dtype);
}

Tensor Criterion::operator()(const Tensor& logits, const Tensor& labels, bool smoothing) const {
  const double s = smoothing ? smoothing_ : 0.0;
  if (kind_ == "ce") {
    CrossEntropyOptions o;
    o.label_smoothing = s;
    return nn::cross_entropy_loss(logits, labels, o);
  }
  Tensor target = one_hot(labels, num_classes_, logits.dtype());
  if (s > 0) target = target * (1.0 - s) + s / double(num_classes_);
  return kind_ == "mse" ? nn::mse_loss(logits, target) : nn::bce_with_logits_loss(logits, target);
}

}  // namespace whet::train
