// A dataset held in tensors: images (N, H, W, C) float32 or uint8 and labels (N) integers,
// as torch.utils.data.TensorDataset. What `tensors:FILE.safetensors` opens.
//
// data/ sits below io/ (it may include core/ only), so it does not read safetensors itself:
// the caller passes the file's tensors and metadata in, and the CLI wires io::load_safetensors
// to open_data (data/open.h) through a loader callback. Class names come from the metadata
// key "class_names", comma-separated ("cat,dog"), else "0".."K-1" up to the largest label.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"

namespace whet::data {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class TensorDataset : public Dataset {
 public:
  // images (N, H, W, C) float32 or uint8 on the CPU; labels (N), any integer type, >= 0.
  TensorDataset(Tensor images, Tensor labels, std::vector<std::string> class_names = {},
                std::string source = "tensors");

  int64_t size() const override { return images_.size(0); }
  Sample get(int64_t i) const override;  // a view of the image, no copy
  int64_t label(int64_t i) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::string describe() const override;

 private:
  Tensor images_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
  std::string source_;
};

// From a file's tensors: "images" and "labels" are required (other tensors are ignored).
// `source` names the file in errors.
DatasetPtr tensor_dataset_from(const NamedTensors& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::string& source);

}  // namespace whet::data
