#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "data/sample_rng.h"

namespace whet::data {

DataLoader::DataLoader(DatasetPtr dataset, TransformPtr transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(std::move(options)) {
  WHET_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  WHET_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ",
             options_.batch_size);
  WHET_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ",
             options_.num_workers);
  WHET_CHECK(options_.world_size >= 1 && options_.rank >= 0 &&
                 options_.rank < options_.world_size,
             "DataLoader: rank ", options_.rank, " is outside a world of ", options_.world_size);
  WHET_CHECK(options_.world_size == 1 ||
                 (options_.drop_last && options_.batch_size % options_.world_size == 0),
             "DataLoader: a batch of ", options_.batch_size, " cannot be shared equally by ",
             options_.world_size, " processes (the batch size must be a multiple of the "
             "process count, and the last ragged batch dropped)");
  int64_t n = dataset_->size();
  WHET_CHECK(n > 0, "DataLoader: ", dataset_->describe(), " is empty");
  batches_per_epoch_ = options_.drop_last ? n / options_.batch_size
                                          : (n + options_.batch_size - 1) / options_.batch_size;
  WHET_CHECK(batches_per_epoch_ > 0, "DataLoader: drop_last with batch_size ", options_.batch_size,
             " leaves no batch of ", dataset_->describe());
  num_classes_ = dataset_->num_classes();
  if (!options_.allocator) {
    options_.allocator = [](const Shape& s, DType t) { return Tensor::empty(s, t); };
  }
  depth_ = std::max<int64_t>({1, options_.prefetch, options_.num_workers});
  for (int w = 0; w < options_.num_workers; ++w) workers_.emplace_back([this] { worker(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(size_t(dataset_->size()));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (options_.shuffle) {
    Generator g(stream_key(options_.seed, Stream::order, uint64_t(epoch)));
    shuffle(order, g);
  }
  return order;
}

void DataLoader::seek(LoaderPosition p) {
  WHET_CHECK(p.epoch >= 0 && p.batch >= 0 && p.batch <= batches_per_epoch_,
             "DataLoader::seek: position (epoch ", p.epoch, ", batch ", p.batch,
             ") is outside an epoch of ", batches_per_epoch_, " batches");
  std::vector<int64_t> order = epoch_order(p.epoch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    ready_.clear();
    order_ = std::move(order);
    epoch_ = p.epoch;
    next_claim_ = next_return_ = p.batch;
    started_ = true;
  }
  work_cv_.notify_all();
}

LoaderPosition DataLoader::position() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {epoch_, next_return_};
}

std::vector<int64_t> DataLoader::indices_of(int64_t batch) const {
  int64_t begin = batch * options_.batch_size;
  int64_t end = std::min<int64_t>(begin + options_.batch_size, int64_t(order_.size()));
  if (options_.world_size > 1) {  // this rank's share (full batches only: drop_last)
    const int64_t share = options_.batch_size / options_.world_size;
    begin += options_.rank * share;
    end = begin + share;
  }
  return {order_.begin() + begin, order_.begin() + end};
}

bool DataLoader::next(Batch& out) {
  if (!started_) seek({0, 0});
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_return_ >= batches_per_epoch_) return false;
  Result r;
  if (workers_.empty()) {
    int64_t b = next_return_++, epoch = epoch_;
    std::vector<int64_t> idx = indices_of(b);
    lock.unlock();
    out = build(idx, epoch, b);
    return true;
  }
  ready_cv_.wait(lock, [&] { return ready_.count(next_return_) > 0; });
  auto it = ready_.find(next_return_);
  r = std::move(it->second);
  ready_.erase(it);
  ++next_return_;
  lock.unlock();
  work_cv_.notify_all();  // a prefetch slot opened
  if (r.error) std::rethrow_exception(r.error);
  out = std::move(r.batch);
  return true;
}

void DataLoader::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] {
      return stop_ ||
             (started_ && next_claim_ < batches_per_epoch_ && next_claim_ < next_return_ + depth_);
    });
    if (stop_) return;
    int64_t b = next_claim_++, epoch = epoch_;
    uint64_t generation = generation_;
    std::vector<int64_t> idx = indices_of(b);
    lock.unlock();
    Result r;
    try {
      r.batch = build(idx, epoch, b);
    } catch (...) {
      r.error = std::current_exception();
    }
    lock.lock();
    if (generation == generation_) {
      ready_[b] = std::move(r);
      ready_cv_.notify_all();
    }
  }
}

Batch DataLoader::build(const std::vector<int64_t>& indices, int64_t epoch, int64_t index) const {
  Batch out;
  out.indices = indices;
  out.epoch = epoch;
  out.index = index;
  int64_t n = int64_t(indices.size());
  Shape sample_shape;
  float* images = nullptr;
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = indices[size_t(k)];
    Sample s = dataset_->get(i);
    WHET_CHECK(s.label >= 0 && s.label < num_classes_, "DataLoader: sample ", i, " of ",
               dataset_->describe(), " has label ", s.label, " outside [0, ", num_classes_, ")");
    Generator g = sample_generator(options_.seed, epoch, i);
    Tensor x = transform_ ? transform_->apply(s.image, g) : s.image;
    if (x.dtype() == DType::u8) x = ToFloat().apply(x, g);
    WHET_CHECK(x.dim() == 3 && x.dtype() == DType::f32, "DataLoader: sample ", i, " transforms to ",
               shape_str(x.shape()), " ", dtype_name(x.dtype()),
               "; batches need (H, W, C) float32");
    if (k == 0) {
      sample_shape = x.shape();
      Shape batch_shape = {n, sample_shape[0], sample_shape[1], sample_shape[2]};
      out.images = options_.allocator(batch_shape, DType::f32);
      out.labels = options_.allocator({n}, DType::i64);
      images = out.images.data<float>();
    }
    WHET_CHECK(x.shape() == sample_shape, "DataLoader: sample ", i, " is ", shape_str(x.shape()),
               " but sample ", indices[0], " of the same batch is ", shape_str(sample_shape),
               " (resize or crop them to one size)");
    std::memcpy(images + size_t(k) * size_t(x.numel()), x.data<float>(), x.nbytes());
    out.labels.data<int64_t>()[k] = s.label;
  }
  return out;
}

}  // namespace whet::data
