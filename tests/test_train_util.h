// Helpers of the training tests (test_train*.cpp): a tiny synthetic tensors: dataset, a
// configuration that trains small_cnn on it in milliseconds, and bitwise comparisons.
#pragma once
#include <cstring>
#include <string>

#include "core/ops.h"
#include "io/safetensors.h"
#include "nn/module.h"
#include "tests/data_test_util.h"
#include "train/config.h"

namespace train_test {

using namespace whet;
using data_test::contains;
using data_test::error_of;
using data_test::TempDir;

// n images (h, h, 1) float32 of k classes: noise plus a bright band whose place is the class,
// so a few steps learn something. Labels i % k, class names c0..c{k-1}.
inline std::string write_tensor_data(const std::string& path, int64_t n = 64, int64_t k = 4,
                                     int64_t h = 12) {
  Generator g(7);
  Tensor images = randn({n, h, h, 1}, DType::f32, Device::cpu(), g);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  float* px = images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = i % k;
    const int64_t band = (i % k) * h / k;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = band; x < band + h / k; ++x) px[(i * h + y) * h + x] += 2.0f;
  }
  std::string names;
  for (int64_t c = 0; c < k; ++c) names += (c ? ",c" : "c") + std::to_string(c);
  io::save_safetensors(path, {{"images", images}, {"labels", Tensor::from_vector(labels, {n})}},
                       {{"class_names", names}});
  return path;
}

// small_cnn on write_tensor_data's images: 48 training images in 6 steps of 8, 16 for
// validation, quiet, loading on the training thread.
inline train::TrainConfig tiny_config(const std::string& data_file, const std::string& out_dir) {
  train::TrainConfig c;
  c.model = "small_cnn";
  c.data = "tensors:" + data_file;
  c.val_fraction = 0.25;
  c.image_size = 12;
  c.augment = "flip";
  c.batch_size = 8;
  c.workers = 0;
  c.epochs = 2;
  c.seed = 3;
  c.quiet = true;
  c.output_dir = out_dir;
  return c;
}

// Every tensor of two state dicts equal byte for byte, in the same order.
inline bool bitwise_equal(const nn::NamedTensors& a, const nn::NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor x = a[i].second.to(Device::cpu()), y = b[i].second.to(Device::cpu());
    if (a[i].first != b[i].first || x.shape() != y.shape() || x.dtype() != y.dtype() ||
        std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) != 0)
      return false;
  }
  return true;
}

}  // namespace train_test
