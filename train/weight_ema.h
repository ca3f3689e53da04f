// An exponential moving average of a model's weights (timm's ModelEmaV3, TensorFlow's
// ExponentialMovingAverage): after every optimizer step, each floating-point parameter and
// buffer of the averaged copy moves towards the model's,
//   ema = ema + (1 - d_t) * (model - ema),   d_t = min(decay, (1 + t) / (10 + t)),
// t counting the updates before this one. The warm-up keeps the first averages from being
// mostly the starting weights, which a short fine-tuning run would never leave. Integer
// buffers (BatchNorm's num_batches_tracked) are copied. The copy stays in eval mode.
#pragma once
#include <cstdint>

#include "models/classifier.h"

namespace whet::train {

class WeightEma {
 public:
  // `averaged` has the model's architecture; it starts as a copy of `model`'s state.
  WeightEma(models::ClassifierPtr averaged, const models::Classifier& model, double decay);

  // One update from `model`, whose `updates_done` earlier updates set the warm-up.
  void update(const models::Classifier& model, int64_t updates_done);
  double decay_at(int64_t updates_done) const;

  models::Classifier& model() { return *averaged_; }
  const models::Classifier& model() const { return *averaged_; }

 private:
  models::ClassifierPtr averaged_;
  double decay_;
};

}  // namespace whet::train
