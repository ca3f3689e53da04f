// data/photometric.h: ColorJitter and RandomErasing, and how --color-jitter and
// --random-erase place them in the training pipeline.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "data/photometric.h"
#include "data/sample_rng.h"
#include "tests/test_train_util.h"
#include "train/setup.h"

using namespace whet;
using namespace whet::data;

namespace {
Tensor rgb_image() {
  Generator g(3);
  return uniform({6, 9, 3}, 0.1, 0.9, DType::f32, Device::cpu(), g);
}
}  // namespace

TEST_CASE("photometric: ColorJitter scales brightness, contrast and saturation within bounds") {
  const Tensor img = rgb_image();
  const std::vector<float> before = img.to_vector<float>();
  // Brightness alone: every value times one factor in [0.6, 1.4], clamped at 1; the darkest
  // value never clamps, so it shows the factor.
  ColorJitter bright(0.4, 0, 0);
  const size_t darkest = size_t(std::min_element(before.begin(), before.end()) - before.begin());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator g(seed);
    const std::vector<float> after = bright.apply(img, g).to_vector<float>();
    const double f = after[darkest] / before[darkest];
    CHECK((f >= 0.6 - 1e-6 && f <= 1.4 + 1e-6));
    for (size_t i = 0; i < after.size(); ++i)
      CHECK(after[i] == doctest::Approx(std::min(1.0, before[i] * f)).epsilon(1e-5));
  }
  // A gray image: saturation changes nothing, contrast keeps its (uniform) mean.
  const Tensor flat = full({4, 4, 3}, 0.5);
  Generator g(1);
  const std::vector<float> out = ColorJitter(0, 0.5, 0.5).apply(flat, g).to_vector<float>();
  for (float v : out) CHECK(v == doctest::Approx(0.5f));
  // The same stream gives the same result; the input is left alone; values stay in [0, 1].
  Generator a(9), b(9);
  ColorJitter all(0.8, 0.8, 0.8);
  const std::vector<float> x = all.apply(img, a).to_vector<float>(), y = all.apply(img, b).to_vector<float>();
  CHECK(x == y);
  CHECK(a.offset() == b.offset());
  CHECK(img.to_vector<float>() == before);
  CHECK(std::all_of(x.begin(), x.end(), [](float v) { return v >= 0 && v <= 1; }));
  CHECK_THROWS_AS(ColorJitter(-1, 0, 0), Error);
  Generator u(0);
  CHECK_THROWS_AS(all.apply(Tensor::empty({4, 4, 3}, DType::u8), u), Error);
}

TEST_CASE("photometric: RandomErasing zeroes one rectangle of 2-33%, or nothing") {
  const Tensor img = rgb_image() + 1.0;  // no zeros of its own
  int erased = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Generator g(seed);
    const std::vector<float> v = RandomErasing(1.0).apply(img, g).to_vector<float>();
    int64_t zeros = 0, rows = 0, cols = 0;
    for (int64_t y = 0; y < 6; ++y) {
      int64_t in_row = 0;
      for (int64_t x = 0; x < 9; ++x) in_row += v[size_t((y * 9 + x) * 3)] == 0;
      rows += in_row > 0;
      cols = std::max(cols, in_row);
      zeros += in_row;
    }
    if (zeros == 0) continue;  // no rectangle fitted in ten tries
    ++erased;
    CHECK(zeros == rows * cols);  // one rectangle
    const double area = double(zeros) / 54.0;
    CHECK((area > 0 && area <= 0.5));  // 2-33% of 54 pixels, rounded to whole rows and columns
  }
  CHECK(erased > 25);
  Generator g(0), h(0);
  CHECK(RandomErasing(0.0).apply(img, g).same_storage(img));
  RandomErasing(1.0).apply(img, h);
  CHECK(g.offset() == h.offset());  // the same draws whatever the outcome
}

TEST_CASE("photometric: --color-jitter before Normalize, --random-erase after, training only") {
  train::TrainConfig c;
  c.model = "small_cnn";
  c.image_size = 28;
  c.color_jitter = 0.4;
  c.random_erase = 0.25;
  for (const std::string augment : {"imagenet", "flip"}) {
    c.augment = augment;
    const std::string train = train::train_transform_for(c)->describe();
    CAPTURE(train);
    const size_t jitter = train.find("ColorJitter"), norm = train.find("Normalize"),
                 erase = train.find("RandomErasing");
    REQUIRE(jitter != std::string::npos);
    REQUIRE(erase != std::string::npos);
    CHECK((jitter < norm && norm < erase));
    const std::string eval = train::eval_transform_for(c)->describe();
    CHECK(eval.find("ColorJitter") == std::string::npos);
    CHECK(eval.find("RandomErasing") == std::string::npos);
  }
}
