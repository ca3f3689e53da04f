#include "train/pending_sums.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace whet::train {

void PendingSums::add(const Tensor& batch_loss, const Tensor& batch_correct, int64_t batch_size,
                      int64_t global_step) {
  NoGradGuard no_grad;
  // Exactly the host's arithmetic: double(loss) * double(batch), then a double sum.
  Tensor weighted = cast(batch_loss, DType::f64) * double(batch_size);
  Tensor correct = cast(batch_correct, DType::i64);
  if (seen_ == 0) {
    loss_sum_ = weighted;
    correct_ = correct;
    first_step_ = global_step;
  } else {
    loss_sum_ = loss_sum_ + weighted;
    correct_ = correct_ + correct;
  }
  seen_ += batch_size;
  last_step_ = global_step;
}

RunningMeans PendingSums::take(dist::Communicator& comm) {
  RunningMeans r;
  if (seen_ == 0) return r;
  if (comm.world_size() == 1) {
    r.loss_sum = loss_sum_.item();
    r.correct = int64_t(correct_.item());
    r.seen = seen_;
  } else {
    // (loss_sum, correct, seen) in one message; counts stay exact in float64 below 2^53.
    NoGradGuard no_grad;
    Tensor sums = concat({reshape(to_device(loss_sum_, Device::cpu()), {1}),
                          reshape(cast(to_device(correct_, Device::cpu()), DType::f64), {1}),
                          full({1}, double(seen_), DType::f64)},
                         0);
    comm.all_reduce(sums);
    const std::vector<double> v = sums.to_vector<double>();
    r.loss_sum = v[0];
    r.correct = int64_t(v[1]);
    r.seen = int64_t(v[2]);
  }
  const int64_t first = first_step_, last = last_step_;
  *this = PendingSums();
  WHET_CHECK(std::isfinite(r.loss_sum), "training stopped: the loss is ", r.loss_sum,
             first == last ? " at step " + std::to_string(last)
                           : " within steps " + std::to_string(first) + "-" + std::to_string(last),
             " (the model diverged: lower --lr, add --clip-grad or warm-up; the last "
             "checkpoint, if any, is from before it)");
  return r;
}

}  // namespace whet::train
