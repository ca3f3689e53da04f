#include "train/weight_ema.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "nn/freeze.h"

namespace whet::train {

WeightEma::WeightEma(models::ClassifierPtr averaged, const models::Classifier& model, double decay)
    : averaged_(std::move(averaged)), decay_(decay) {
  WHET_CHECK(decay > 0 && decay < 1, "--ema-decay ", decay, ": must be in (0, 1)");
  averaged_->load_state_dict(model.state_dict(), /*strict=*/true);
  averaged_->eval();
  nn::freeze(*averaged_);  // never trained: no gradients, no autograd graph
}

double WeightEma::decay_at(int64_t updates_done) const {
  return std::min(decay_, double(1 + updates_done) / double(10 + updates_done));
}

void WeightEma::update(const models::Classifier& model, int64_t updates_done) {
  NoGradGuard no_grad;
  const double w = 1.0 - decay_at(updates_done);
  const nn::NamedTensors src = model.state_dict(), dst = averaged_->state_dict();
  WHET_CHECK(src.size() == dst.size(), "weight EMA: the model has ", src.size(),
             " state entries, its average ", dst.size());
  for (size_t i = 0; i < src.size(); ++i) {
    const Tensor& from = src[i].second;
    Tensor to = dst[i].second;
    if (is_floating(to.dtype()))
      to.copy_(to + (from.to(to.dtype()) - to) * w);
    else
      to.copy_(from);
  }
}

}  // namespace whet::train
