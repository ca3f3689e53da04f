// The data loader: batches of (N, H, W, C) float32 images and (N) int64 labels, built by
// worker threads a few batches ahead of the training loop (torch.utils.data.DataLoader with
// num_workers, prefetch_factor and a seeded sampler).
//
//   LoaderOptions opt;
//   opt.batch_size = 64, opt.seed = 1;
//   DataLoader loader(train, train_transform(224), opt);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);
//     Batch b;
//     while (loader.next(b)) step(b.images, b.labels);
//   }
//
// Determinism: epoch e's order is a Philox permutation keyed by (seed, e) (dataset order
// without shuffle), and sample i's augmentation draws from the stream of (seed, e, i), so the
// batches are the same for any number of workers (0 loads on the calling thread), and
// position() / seek() resume an interrupted epoch with exactly the batches that remained.
// Batches come out in order; a batch whose loading threw rethrows from next().
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace whet::data {

struct Batch {
  Tensor images;                 // (N, H, W, C) float32
  Tensor labels;                 // (N) int64
  std::vector<int64_t> indices;  // (N) the dataset indices, for reports and debugging
  int64_t epoch = 0, index = 0;  // where this batch sits: batch `index` of `epoch`
};

// The next batch the loader hands out. What a checkpoint stores to resume mid-epoch.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

// Allocates a batch's buffers. The default is Tensor::empty on the CPU; a CUDA build plugs
// its pinned-host allocator in here, so the training loop's host-to-device copy of a batch
// can be asynchronous and overlap compute. Called from worker threads.
using BatchAllocator = std::function<Tensor(const Shape& shape, DType dtype)>;

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;     // false keeps dataset order
  bool drop_last = false;  // drop a last, smaller batch
  int num_workers = 2;     // threads; 0 loads on the thread that calls next()
  int prefetch = 4;        // batches loaded ahead of the consumer (at least num_workers)
  uint64_t seed = 0;
  BatchAllocator allocator;  // empty: the CPU default
  // Data parallelism: of each batch (batch_size images, the same on every rank), this
  // process loads the contiguous share [rank * b, (rank + 1) * b), b = batch_size /
  // world_size. The ranks' shares together are exactly the single-process batch, so one
  // run on W processes sees the data a one-process run sees. Needs drop_last and a
  // batch_size divisible by world_size, so every rank gets an equal, non-empty share.
  int rank = 0, world_size = 1;
};

class DataLoader {
 public:
  // transform may be null (images must then be of one shape already). uint8 images left
  // uint8 by the transform are scaled to [0, 1] as ToFloat would.
  DataLoader(DatasetPtr dataset, TransformPtr transform, LoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t size() const { return dataset_->size(); }
  const DatasetPtr& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }

  // Starts `epoch` at its first batch (seek({epoch, 0})).
  void set_epoch(int64_t epoch) { seek({epoch, 0}); }
  // Continues from `p` (batch in [0, batches_per_epoch]); batches loaded ahead are dropped.
  void seek(LoaderPosition p);
  LoaderPosition position() const;

  // The next batch of the current epoch into `out`; false (out untouched) at its end. The
  // first call without a seek starts epoch 0.
  bool next(Batch& out);

  // The dataset indices of `epoch` in the order they are batched.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };
  Batch build(const std::vector<int64_t>& indices, int64_t epoch, int64_t index) const;
  std::vector<int64_t> indices_of(int64_t batch) const;  // under mutex_
  void worker();

  DatasetPtr dataset_;
  TransformPtr transform_;
  LoaderOptions options_;
  int64_t batches_per_epoch_ = 0, num_classes_ = 0, depth_ = 1;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  bool started_ = false, stop_ = false;
  uint64_t generation_ = 0;  // bumped by seek: batches of an older one are dropped
  int64_t epoch_ = 0, next_claim_ = 0, next_return_ = 0;
  std::vector<int64_t> order_;
  std::map<int64_t, Result> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace whet::data
