#include "data/tensor_dataset.h"

#include <algorithm>

#include "core/error.h"

namespace whet::data {

TensorDataset::TensorDataset(Tensor images, Tensor labels, std::vector<std::string> class_names,
                             std::string source)
    : images_(std::move(images)), class_names_(std::move(class_names)), source_(std::move(source)) {
  WHET_CHECK(images_.defined() && images_.dim() == 4 &&
                 (images_.dtype() == DType::f32 || images_.dtype() == DType::u8),
             "TensorDataset: ", source_, ": images must be (N, H, W, C) float32 or uint8, got ",
             images_.defined() ? shape_str(images_.shape()) + " " + dtype_name(images_.dtype())
                               : std::string("nothing"));
  images_ = images_.to(Device::cpu());
  WHET_CHECK(labels.defined() && labels.dim() == 1 && !is_floating(labels.dtype()) &&
                 labels.dtype() != DType::boolean,
             "TensorDataset: ", source_, ": labels must be (N) integers, got ",
             labels.defined() ? shape_str(labels.shape()) + " " + dtype_name(labels.dtype())
                              : std::string("nothing"));
  WHET_CHECK(labels.size(0) == images_.size(0), "TensorDataset: ", source_, ": ", images_.size(0),
             " images but ", labels.size(0), " labels");
  WHET_CHECK(images_.size(0) > 0, "TensorDataset: ", source_, ": no images");
  labels_ = labels.to_vector<int64_t>();
  int64_t max_label = *std::max_element(labels_.begin(), labels_.end());
  int64_t min_label = *std::min_element(labels_.begin(), labels_.end());
  WHET_CHECK(min_label >= 0, "TensorDataset: ", source_, ": negative label ", min_label);
  if (class_names_.empty()) {
    for (int64_t c = 0; c <= max_label; ++c) class_names_.push_back(std::to_string(c));
  }
  WHET_CHECK(max_label < int64_t(class_names_.size()), "TensorDataset: ", source_, ": label ",
             max_label, " but ", class_names_.size(), " class names");
}

Sample TensorDataset::get(int64_t i) const {
  check_index(*this, i, "TensorDataset::get");
  return {images_[i], labels_[size_t(i)]};
}

int64_t TensorDataset::label(int64_t i) const {
  check_index(*this, i, "TensorDataset::label");
  return labels_[size_t(i)];
}

std::string TensorDataset::describe() const {
  return detail::cat("tensors ", source_, " (", size(), " images ", images_.size(1), "x",
                     images_.size(2), "x", images_.size(3), " ", dtype_name(images_.dtype()), ", ",
                     class_names_.size(), " classes)");
}

DatasetPtr tensor_dataset_from(const NamedTensors& tensors,
                               const std::map<std::string, std::string>& metadata,
                               const std::string& source) {
  auto find = [&](const char* name) {
    for (const auto& [k, t] : tensors) {
      if (k == name) return t;
    }
    WHET_FAIL("tensor dataset ", source, ": no tensor named \"", name,
              "\" (expected images (N, H, W, C) and labels (N))");
  };
  std::vector<std::string> names;
  auto it = metadata.find("class_names");
  if (it != metadata.end() && !it->second.empty()) {
    size_t start = 0;
    for (;;) {
      size_t comma = it->second.find(',', start);
      names.push_back(it->second.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return std::make_shared<TensorDataset>(find("images"), find("labels"), std::move(names), source);
}

}  // namespace whet::data
