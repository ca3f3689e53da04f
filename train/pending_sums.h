// The loss and accuracy sums of training steps not yet read on the host. They stay on the
// training device, so a step adds to them without waiting for it: on a GPU the host runs
// ahead, queueing the next steps, and only reads (one wait) at logging points, checkpoints
// and epoch ends. The trainer reads after every step on the CPU, where reading costs nothing,
// so the CPU's sums are the plain host sums, bit for bit.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "dist/communicator.h"
#include "train/metrics.h"

namespace whet::train {

class PendingSums {
 public:
  // batch_loss: the batch's 0-D mean loss; batch_correct: 0-D integer count; on one device.
  void add(const Tensor& batch_loss, const Tensor& batch_correct, int64_t batch_size,
           int64_t global_step);
  bool empty() const { return seen_ == 0; }

  // Reads and clears the sums, added up over the ranks of `comm` (a collective: every rank
  // calls it at the same steps). A non-finite loss among them stops the run here, on every
  // rank, naming the steps, before anything (a checkpoint, the best weights) records what it
  // did; as timm's train.py does ("Loss is nan, stopping training").
  RunningMeans take(dist::Communicator& comm);

 private:
  Tensor loss_sum_;  // 0-D float64: sum of batch mean loss x batch size
  Tensor correct_;   // 0-D int64
  int64_t seen_ = 0, first_step_ = 0, last_step_ = 0;
};

}  // namespace whet::train
