// Input-pipeline benchmark: how many images per second the DataLoader delivers from a folder of
// JPEGs through torchvision's ImageNet training transform (random resized crop to 224, flip,
// normalise), with 0, 1, 2, ... worker threads; and, per image on one thread, what decoding
// and the transform cost. On a GPU the pipeline must keep up with the model (ResNet-50 in
// bf16 trains at thousands of images/s on an H100), so this is the number to watch.
//
//   bench_loader [--dir DIR] [--images N] [--photo WxH] [--min-side N] [--batch N]
//                [--workers 0,1,2] [--epochs N] [--keep]
//
// Without --dir it writes N synthetic RGB JPEGs of WxH (default 500x375, ImageNet's typical
// size; smooth shapes and noise, quality 90, four classes) into a temporary folder and
// removes it after. --min-side N decodes JPEGs at a reduced scale keeping the shorter side at
// least N (whet train --fast-decode; data/image_codec.h).
// bench/torch_loader_baseline.py times torchvision's ImageFolder + DataLoader on the same
// folder (--keep leaves it in place).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/ops.h"
#include "data/image_codec.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/transforms.h"

using namespace whet;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A photo-like 375x500 image: a gradient, a few discs and sensor-like noise, so the JPEG
// holds as much detail as a real photo of that size.
Tensor synthetic_photo(int64_t h, int64_t w, uint64_t seed) {
  Generator g(seed);
  Tensor noise = randint(0, 24, {h, w, 3}, DType::i64, Device::cpu(), g);
  Tensor centres = randint(0, std::min(h, w), {8, 3}, DType::i64, Device::cpu(), g);
  const int64_t* nz = noise.data<int64_t>();
  const int64_t* c = centres.data<int64_t>();
  Tensor img = Tensor::empty({h, w, 3}, DType::u8);
  uint8_t* p = img.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < 3; ++ch) {
        int64_t v = (x * 160 / w + y * 80 / h + ch * 40) % 200;
        for (int64_t d = 0; d < 8; ++d) {
          const int64_t dy = y - c[d * 3], dx = x - c[d * 3 + 1];
          if (dy * dy + dx * dx < c[d * 3 + 2] * c[d * 3 + 2] / 4) v = (v + 37 * (d + ch)) % 200;
        }
        p[(y * w + x) * 3 + ch] = uint8_t(v + nz[(y * w + x) * 3 + ch]);
      }
  return img;
}

// "WxH" -> w, h (positive); false otherwise.
bool parse_size(const char* s, int64_t& w, int64_t& h) {
  long long a = 0, b = 0;
  if (std::sscanf(s, "%lldx%lld", &a, &b) != 2 || a <= 0 || b <= 0) return false;
  w = a, h = b;
  return true;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream is(s);
  for (std::string part; std::getline(is, part, ',');) out.push_back(std::atoi(part.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, workers_list = "0,1,2";
  int64_t images = 256, batch = 32, epochs = 2, photo_w = 500, photo_h = 375, min_side = 0;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dir" && has_value)
      dir = argv[++i];
    else if (a == "--images" && has_value)
      images = std::max(4LL, std::atoll(argv[++i]));
    else if (a == "--batch" && has_value)
      batch = std::max(1LL, std::atoll(argv[++i]));
    else if (a == "--workers" && has_value)
      workers_list = argv[++i];
    else if (a == "--epochs" && has_value)
      epochs = std::max(1LL, std::atoll(argv[++i]));
    else if (a == "--photo" && has_value && parse_size(argv[i + 1], photo_w, photo_h))
      ++i;
    else if (a == "--min-side" && has_value)
      min_side = std::max(0LL, std::atoll(argv[++i]));
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--dir DIR] [--images N] [--photo WxH] [--min-side N] [--batch N] "
                   "[--workers 0,1,2] [--epochs N] [--keep]\n",
                   argv[0]);
      return 2;
    }
  }

  const bool generated = dir.empty();
  if (generated) {
    dir = (fs::temp_directory_path() / "whet_bench_loader").string();
    fs::remove_all(dir);
    for (int64_t i = 0; i < images; ++i) {
      const fs::path cls = fs::path(dir) / ("class" + std::to_string(i % 4));
      fs::create_directories(cls);
      data::write_jpeg((cls / (std::to_string(i) + ".jpg")).string(),
                       synthetic_photo(photo_h, photo_w, uint64_t(i)), 90);
    }
    std::printf("wrote %lld synthetic %lldx%lld JPEGs (quality 90) to %s\n", (long long)images,
                (long long)photo_w, (long long)photo_h, dir.c_str());
  }
  data::ImageFolderOptions fo;
  fo.min_side = min_side;
  auto dataset = std::make_shared<data::ImageFolder>(dir, fo);
  const auto transform = data::train_transform(224);

  // One thread, per image: decoding alone, then the transform alone.
  {
    const int64_t n = std::min<int64_t>(dataset->size(), 64);
    std::vector<Tensor> decoded;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) decoded.push_back(dataset->get(i).image);
    const double decode = seconds_since(t0) / double(n);
    t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
      Generator gen{uint64_t(i)};
      (void)transform->apply(decoded[size_t(i)], gen);
    }
    const double transform_s = seconds_since(t0) / double(n);
    std::printf("one thread, per image: read + decode %.2f ms (to %s), train transform %.2f ms\n",
                decode * 1e3, shape_str(decoded.front().shape()).c_str(), transform_s * 1e3);
  }

  std::printf("DataLoader, batch %lld, %lld images, train_transform(224):\n", (long long)batch,
              (long long)dataset->size());
  for (int workers : parse_list(workers_list)) {
    data::LoaderOptions o;
    o.batch_size = batch;
    o.num_workers = workers;
    data::DataLoader loader(dataset, transform, o);
    double best = 0;
    for (int64_t e = 0; e < epochs; ++e) {  // the first epoch warms the page cache
      loader.set_epoch(e);
      data::Batch b;
      auto t0 = std::chrono::steady_clock::now();
      int64_t n = 0;
      while (loader.next(b)) n += b.images.size(0);
      best = std::max(best, double(n) / seconds_since(t0));
    }
    std::printf("  workers %d: %8.1f images/s (best epoch of %lld)\n", workers, best,
                (long long)epochs);
  }
  if (generated && !keep) fs::remove_all(dir);
  return 0;
}
