// data/mix.h: Mixup and CutMix on a batch, their Beta draws, and the blended loss.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/ops.h"
#include "data/mix.h"
#include "data/sample_rng.h"
#include "tests/test_train_util.h"
#include "train/checkpoint.h"
#include "train/criterion.h"
#include "train/trainer.h"

using namespace whet;

namespace {

// (4, 3, 5, 2) images of random values and labels 0..3.
Tensor batch_images() {
  Generator g(11);
  return randn({4, 3, 5, 2}, DType::f32, Device::cpu(), g);
}
Tensor batch_labels() { return Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3}, {4}); }

}  // namespace

TEST_CASE("mix: Beta(a, a) draws have the mean 1/2 and the variance 1 / (4 (2a + 1))") {
  for (double alpha : {0.2, 1.0, 4.0}) {
    CAPTURE(alpha);
    Generator g(data::stream_key(5, data::Stream::mix, uint64_t(alpha * 10)));
    const int n = 20000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = data::sample_beta(alpha, g);
      REQUIRE((x >= 0 && x <= 1));
      sum += x, sum2 += x * x;
    }
    const double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(mean == doctest::Approx(0.5).epsilon(0.03));
    CHECK(var == doctest::Approx(1.0 / (4.0 * (2.0 * alpha + 1.0))).epsilon(0.05));
  }
}

TEST_CASE("mix: mixup blends each image with the flipped batch, deterministic per step") {
  const Tensor x = batch_images(), y = batch_labels();
  const std::vector<float> before = x.to_vector<float>();
  const data::MixOptions o{0.4, 0};
  const data::MixedBatch m = data::mix_batch(x, y, o, 7, 3);
  CHECK_FALSE(m.cutmix);
  CHECK((m.lam > 0 && m.lam < 1));
  CHECK(x.to_vector<float>() == before);  // the input is left alone
  CHECK(m.other_labels.to_vector<int64_t>() == std::vector<int64_t>{3, 2, 1, 0});
  const std::vector<float> z = m.images.to_vector<float>();
  const size_t per = 3 * 5 * 2;
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < per; ++k)
      CHECK(z[i * per + k] == doctest::Approx(m.lam * before[i * per + k] +
                                              (1 - m.lam) * before[(3 - i) * per + k]));
  CHECK(data::mix_batch(x, y, o, 7, 3).images.to_vector<float>() == z);  // same step: same
  CHECK(data::mix_batch(x, y, o, 7, 4).lam != m.lam);                     // next step: other
}

TEST_CASE("mix: cutmix pastes one box of the partner, lam the uncovered fraction") {
  const Tensor x = batch_images(), y = batch_labels();
  const std::vector<float> before = x.to_vector<float>();
  std::set<bool> kinds;
  int boxes = 0;
  for (int64_t step = 0; step < 40; ++step) {
    const data::MixedBatch m = data::mix_batch(x, y, data::MixOptions{0, 1.0}, 1, step);
    REQUIRE(m.cutmix);
    const std::vector<float> z = m.images.to_vector<float>();
    // Pixel (r, c) of image i is its own or its partner's; count the partner's per image.
    int64_t pasted_first = -1;
    for (int64_t i = 0; i < 4; ++i) {
      int64_t pasted = 0;
      for (int64_t p = 0; p < 15; ++p) {
        const size_t own = size_t((i * 15 + p) * 2), partner = size_t(((3 - i) * 15 + p) * 2);
        const bool is_own = z[own] == before[own] && z[own + 1] == before[own + 1];
        const bool is_partner = z[own] == before[partner] && z[own + 1] == before[partner + 1];
        REQUIRE((is_own || is_partner));
        pasted += !is_own;
      }
      if (pasted_first < 0) pasted_first = pasted;
      CHECK(pasted == pasted_first);  // one box for the whole batch
    }
    CHECK(m.lam == doctest::Approx(1.0 - double(pasted_first) / 15.0));
    boxes += pasted_first > 0;
    // With both enabled, each batch takes one of the two.
    kinds.insert(data::mix_batch(x, y, data::MixOptions{0.4, 1.0}, 1, step).cutmix);
  }
  CHECK(boxes > 10);
  CHECK(kinds.size() == 2);
}

TEST_CASE("mix: the blended loss is the blend of the losses (ce) or the loss of the blend") {
  Tensor logits = Tensor::from_vector(std::vector<float>{2, 0, -1, 0.5f, 1, 0}, {2, 3});
  Tensor a = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  Tensor b = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
  train::Criterion ce("ce", 3, 0.1);
  CHECK(ce.mixed(logits, a, b, 0.3).item() ==
        doctest::Approx(0.3 * ce(logits, a).item() + 0.7 * ce(logits, b).item()));
  CHECK(ce.mixed(logits, a, b, 1.0).item() == doctest::Approx(ce(logits, a).item()));
  train::Criterion mse("mse", 3, 0.0);
  const Tensor target = train::one_hot(a, 3) * 0.25 + train::one_hot(b, 3) * 0.75;
  double want = 0;
  const std::vector<float> l = logits.to_vector<float>(), t = target.to_vector<float>();
  for (size_t k = 0; k < l.size(); ++k) want += (l[k] - t[k]) * (l[k] - t[k]) / 6.0;
  CHECK(mse.mixed(logits, a, b, 0.25).item() == doctest::Approx(want));
}

TEST_CASE("train: --mixup and --cutmix change the steps a run takes") {
  train_test::TempDir dir;
  const std::string data = train_test::write_tensor_data(dir / "data.safetensors");
  train::TrainConfig plain = train_test::tiny_config(data, dir.file("plain"));
  train::TrainConfig mixed = train_test::tiny_config(data, dir.file("mixed"));
  mixed.mixup = 0.4;
  mixed.cutmix = 1.0;
  REQUIRE(train::run_training(plain).completed);
  REQUIRE(train::run_training(mixed).completed);
  CHECK_FALSE(train_test::bitwise_equal(
      train::load_checkpoint(dir.file("plain/last.safetensors")).part("model."),
      train::load_checkpoint(dir.file("mixed/last.safetensors")).part("model.")));
  mixed.mixup = -1;
  CHECK(train_test::contains(train_test::error_of([&] { train::run_training(mixed); }),
                             "--mixup -1: must be >= 0"));
}
