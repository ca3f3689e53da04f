#include "train/criterion.h"

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/ops.h"
#include "nn/loss.h"

namespace whet::train {

Criterion::Criterion(std::string kind, int64_t num_classes, double label_smoothing,
                     Tensor class_weight)
    : kind_(std::move(kind)),
      num_classes_(num_classes),
      smoothing_(label_smoothing),
      class_weight_(std::move(class_weight)) {
  WHET_CHECK(kind_ == "ce" || kind_ == "mse" || kind_ == "bce", "unknown loss '", kind_,
             "' (expected ce, mse or bce)");
  WHET_CHECK(!class_weight_.defined() || kind_ == "ce",
             "--class-weights weight the cross-entropy: use them with --loss ce");
}

Tensor class_weights_for(const std::string& spec, const data::Dataset& train, int64_t num_classes) {
  std::vector<float> w;
  if (spec == "balanced") {
    std::vector<int64_t> count(size_t(num_classes), 0);
    for (int64_t i = 0; i < train.size(); ++i) ++count[size_t(train.label(i))];
    const std::vector<std::string> names = train.class_names();
    for (int64_t c = 0; c < num_classes; ++c) {
      WHET_CHECK(count[size_t(c)] > 0, "--class-weights balanced: class ", c,
                 c < int64_t(names.size()) ? " (" + names[size_t(c)] + ")" : std::string(),
                 " has no training image");
      w.push_back(float(double(train.size()) / double(num_classes * count[size_t(c)])));
    }
  } else {
    std::istringstream parts(spec);
    for (std::string part; std::getline(parts, part, ',');) {
      size_t used = 0;
      double v = 0;
      try {
        v = std::stod(part, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      WHET_CHECK(!part.empty() && used == part.size() && v > 0 && std::isfinite(v),
                 "--class-weights '", spec, "': '", part, "' is not a positive number (give "
                 "balanced, or one positive weight per class)");
      w.push_back(float(v));
    }
    WHET_CHECK(int64_t(w.size()) == num_classes, "--class-weights '", spec, "' has ", w.size(),
               " weights; the model has ", num_classes, " classes");
  }
  return Tensor::from_vector(w, {num_classes});
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  // (N, 1) == (K) broadcasts to (N, K).
  Tensor classes = arange(0, double(num_classes), 1, DType::i64, labels.device());
  return cast(eq(labels.to(DType::i64).unsqueeze(1), classes), dtype);
}

Tensor Criterion::operator()(const Tensor& logits, const Tensor& labels, bool training) const {
  const double s = training ? smoothing_ : 0.0;
  if (kind_ == "ce") {
    CrossEntropyOptions o;
    o.label_smoothing = s;
    return nn::cross_entropy_loss(logits, labels, o, training ? class_weight_ : Tensor());
  }
  const Tensor target = targets(labels, logits.dtype(), s);
  return kind_ == "mse" ? nn::mse_loss(logits, target) : nn::bce_with_logits_loss(logits, target);
}

Tensor Criterion::targets(const Tensor& labels, DType dtype, double smoothing) const {
  Tensor target = one_hot(labels, num_classes_, dtype);
  return smoothing > 0 ? target * (1.0 - smoothing) + smoothing / double(num_classes_) : target;
}

Tensor Criterion::mixed(const Tensor& logits, const Tensor& labels, const Tensor& other,
                        double lam) const {
  if (kind_ == "ce") return (*this)(logits, labels) * lam + (*this)(logits, other) * (1.0 - lam);
  const Tensor target = targets(labels, logits.dtype(), smoothing_) * lam +
                        targets(other, logits.dtype(), smoothing_) * (1.0 - lam);
  return kind_ == "mse" ? nn::mse_loss(logits, target) : nn::bce_with_logits_loss(logits, target);
}

}  // namespace whet::train
