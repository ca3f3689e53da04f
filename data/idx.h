// IDX files (the MNIST format, yann.lecun.com/exdb/mnist) and the datasets stored in them.
//
// An IDX file: two zero bytes, a type byte, a rank byte, `rank` big-endian uint32 extents,
// then the elements, big-endian, row-major. Files may be gzipped (zlib reads both alike).
// Types: 0x08 uint8 -> u8; 0x09 int8, 0x0B int16, 0x0C int32 -> i32; 0x0D float32 -> f32;
// 0x0E float64 -> f64 (whet has no int8/int16, and int32 holds them exactly).
#pragma once
#include <string>

#include "data/dataset.h"

namespace whet::data {

// Reads a whole IDX file into a CPU tensor of its shape. Throws naming the file for a bad
// magic, unknown type, zero rank, an element count that overflows, a short file or bytes
// after the data.
Tensor read_idx(const std::string& path);

// Writes `t` (u8, i32, f32 or f64) as IDX, gzipped when `gzip`: for tests and for tools that
// cut subsets of IDX datasets.
void write_idx(const std::string& path, const Tensor& t, bool gzip = false);

// Images (N, H, W) or (N, H, W, C) uint8 with labels (N) of an integer type, as MNIST-style
// IDX pairs. Samples are (H, W, C) uint8 views of the loaded images (no copy per sample).
class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& images_path, const std::string& labels_path,
             std::vector<std::string> class_names = {}, std::string name = "idx");

  int64_t size() const override { return images_.size(0); }
  Sample get(int64_t i) const override;
  int64_t label(int64_t i) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::string describe() const override;

 private:
  Tensor images_;  // (N, H, W, C) uint8
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
  std::string name_, images_path_;
};

// Fashion-MNIST (Xiao et al. 2017): 60000 training and 10000 test images, 28x28x1 uint8,
// 10 classes, named as torchvision's FashionMNIST.classes.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";  // Debian's
// dataset-fashion-mnist package
const std::vector<std::string>& fashion_mnist_classes();

// `split` is "train" or "test"; the directory holds {train,t10k}-{images-idx3,labels-idx1}-
// ubyte, gzipped (.gz) or not.
DatasetPtr fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace whet::data
