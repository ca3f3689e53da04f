// The Dataset interface: an indexable collection of (image, label) samples, as PyTorch's
// map-style torch.utils.data.Dataset. Images are (H, W, C) tensors, uint8 as decoded or
// float32 (tensor files); transforms (data/transforms.h) and the loader (data/loader.h) turn
// them into float32 batches.
//
// Implementations must make get() and label() safe to call from several threads at once:
// the loader's workers share one dataset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace whet::data {

struct Sample {
  Tensor image;       // (H, W, C) uint8 or float32
  int64_t label = 0;  // in [0, num_classes)
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t i) const = 0;
  // The label alone, without decoding the image: what class subsets, per-class limits and
  // stratified splits look at.
  virtual int64_t label(int64_t i) const { return get(i).label; }
  virtual std::vector<std::string> class_names() const = 0;
  int64_t num_classes() const { return int64_t(class_names().size()); }
  // One line for logs: "image folder /data/flowers (3670 images, 5 classes)".
  virtual std::string describe() const = 0;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// Throws naming `what` and the dataset when i is outside [0, size).
void check_index(const Dataset& d, int64_t i, const char* what);

}  // namespace whet::data
