// Helpers shared by the data pipeline's tests (test_data.cpp, test_data_pipeline.cpp): the
// PNG fixtures' pixel formulas (tools/golden/make_test_images.py), temporary folders and
// small synthetic datasets.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "data/image_codec.h"
#include "tests/temp_dir.h"
#include "data/tensor_dataset.h"

namespace data_test {

namespace fs = std::filesystem;
using namespace whet;
using namespace whet::data;

inline std::string fixture(const std::string& name) {
  return std::string(WHET_SOURCE_DIR) + "/tests/data/images/" + name;
}

using whet_test::TempDir;

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline int px(const Tensor& img, int64_t y, int64_t x, int64_t c) {
  return img.data<uint8_t>()[(y * img.size(1) + x) * img.size(2) + c];
}

inline float pf(const Tensor& img, int64_t y, int64_t x, int64_t c) {
  return img.data<float>()[(y * img.size(1) + x) * img.size(2) + c];
}

// make_test_images.py's formulas (images are 5 x 7).
inline constexpr int kH = 5, kW = 7;
inline int gray8(int y, int x) { return (y * 50 + x * 13 + 7) % 256; }
inline int gray16(int y, int x) { return (y * 13107 + x * 9000 + 123) % 65536; }
inline int rgb8(int y, int x, int c) {
  int v[3] = {(y * 40 + x * 30) % 256, 255 - x * 35, (x * y * 17 + 5) % 256};
  return v[c];
}
inline int rgb16(int y, int x, int c) { return (y * 7000 + x * 3000 + c * 11111 + 77) % 65536; }
inline int gray4(int y, int x) { return (x + 3 * y) % 16; }
inline int palette(int y, int x, int c) {
  static const int p[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  return p[(x + 2 * y) % 4][c];
}
inline int scale16(int v) { return int(std::lround(v / 257.0)); }  // round(v * 255 / 65535)
inline int luma(int r, int g, int b) { return (19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16; }

// A smooth RGB test picture for JPEG: values change slowly, so a quality-100 JPEG with no
// chroma subsampling reproduces them within a few levels.
inline Tensor smooth_rgb(int64_t h, int64_t w) {
  Tensor t = Tensor::empty({h, w, 3}, DType::u8);
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* p = t.data<uint8_t>() + (y * w + x) * 3;
      p[0] = uint8_t(40 + 4 * x), p[1] = uint8_t(200 - 3 * y), p[2] = uint8_t(100 + x + y);
    }
  }
  return t;
}

// (n, h, w, c) float images whose every value is the sample index, and labels i % classes.
inline std::shared_ptr<TensorDataset> indexed_dataset(int64_t n, int64_t classes, int64_t h = 8,
                                                      int64_t w = 8, int64_t c = 1) {
  Tensor images = Tensor::empty({n, h, w, c}, DType::f32);
  Tensor labels = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < h * w * c; ++k) images.data<float>()[i * h * w * c + k] = float(i);
    labels.data<int64_t>()[i] = i % classes;
  }
  return std::make_shared<TensorDataset>(images, labels);
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace data_test
