// `whet eval --precision` and `whet predict --precision` (train/setup.h PrecisionPolicy, for the
// forward only) on a small_cnn trained for a few steps on a folder of PNGs, and
// evaluate()'s autocast argument (train/evaluate.h).
#include <doctest/doctest.h>

#include "tests/cli_util.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/autocast.h"
#include "data/image_codec.h"
#include "data/loader.h"
#include "data/open.h"
#include "data/transforms.h"
#include "io/weights.h"
#include "models/registry.h"
#include "tests/temp_dir.h"
#include "train/evaluate.h"

using namespace whet;
using nlohmann::json;
using whet_test::contains;
using whet_test::Run;
using whet_test::run_whet;
using whet_test::TempDir;

namespace {
constexpr int kClasses = 4, kPerClass = 12, kSide = 28;

// kClasses sub-folders of kPerClass 28x28 gray PNGs: noise plus a vertical band `gain` brighter
// whose place is the class. At the default gain a few training steps separate them.
std::string write_images(const TempDir& dir, int gain = 120, const std::string& name = "images") {
  uint32_t state = 12345;
  auto noise = [&] {
    state = state * 1664525u + 1013904223u;
    return int(state >> 25);  // [0, 128)
  };
  for (int c = 0; c < kClasses; ++c)
    for (int i = 0; i < kPerClass; ++i) {
      std::vector<uint8_t> px(kSide * kSide);
      const int band = c * kSide / kClasses;
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x)
          px[size_t(y * kSide + x)] =
              uint8_t(noise() + (x >= band && x < band + kSide / kClasses ? gain : 0));
      data::write_png(dir / (name + "/c" + std::to_string(c) + "/" + std::to_string(i) + ".png"),
                      Tensor::from_vector(px, {kSide, kSide, 1}, DType::u8));
    }
  return (dir.path / name).string();
}

// small_cnn trained by `whet train` on `images` for a few epochs; the weights file.
std::string train_model(const TempDir& dir, const std::string& images) {
  const std::string weights = dir / "run/model.safetensors";
  Run r = run_whet("train --model small_cnn --data folder:" + images +
                   " --image-size 28 --augment none --batch-size 16 --workers 0 --seed 1"
                   " --epochs 4 --optimizer adam --lr 0.003 --quiet --output-dir " +
                   (dir.path / "run").string() + " --overwrite --save " + weights);
  INFO(r.out);
  REQUIRE(r.status == 0);
  return weights;
}

json eval_json(const std::string& weights, const std::string& images, const std::string& flags) {
  Run r = run_whet("eval --model small_cnn --weights " + weights + " --data folder:" + images +
                       " --workers 0 --json - " + flags,
                   /*stdout_only=*/true);
  INFO(flags);
  INFO(r.out);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

// predict --json over every class on `inputs` (folders of write_images): per image, its
// (index -> prob) row.
std::vector<std::vector<double>> predict_probs(const std::string& weights,
                                               const std::vector<std::string>& inputs,
                                               const std::string& flags) {
  std::string images;
  for (const std::string& in : inputs) images += " " + in;
  Run r = run_whet("predict --model small_cnn --weights " + weights + " --json --top-k " +
                       std::to_string(kClasses) + " " + flags + images,
                   /*stdout_only=*/true);
  INFO(flags);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::vector<std::vector<double>> rows;
  std::istringstream is(r.out);
  for (std::string line; std::getline(is, line);) {
    const json j = json::parse(line);
    REQUIRE(j.contains("top"));
    REQUIRE(j["top"].size() == size_t(kClasses));
    std::vector<double> p(kClasses, -1.0);
    for (const auto& t : j["top"]) p[size_t(t["index"].get<int64_t>())] = t["prob"].get<double>();
    rows.push_back(p);
  }
  REQUIRE(rows.size() == inputs.size() * kClasses * kPerClass);
  return rows;
}

size_t argmax(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

// A weights file of a freshly initialised 3-class small_cnn, for the refusals.
std::string random_weights(const TempDir& dir) {
  models::ModelOptions mo;
  mo.num_classes = 3;
  const std::string weights = dir / "random.safetensors";
  io::save_weights(*models::create_model("small_cnn", mo), weights);
  return weights;
}
}  // namespace

TEST_CASE("cli: eval --precision bf16 and fp16 score as fp32 does and the JSON says which ran") {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string weights = train_model(dir, images);

  // The training images, which the model gets all right, and fainter ones it gets about half
  // right: there many samples sit near a decision boundary, where half precision could tip them.
  const std::string faint = write_images(dir, /*gain=*/80, "faint");
  for (const std::string& data : {images, faint}) {
    INFO(data);
    const json f32 = eval_json(weights, data, "");
    CHECK(f32["precision"] == "fp32");
    CHECK(eval_json(weights, data, "--precision fp32") == f32);
    const double acc32 = f32["accuracy"].get<double>(), loss32 = f32["loss"].get<double>();
    INFO("fp32: accuracy " << acc32 << ", loss " << loss32);
    // A model that learnt nothing would agree with itself in any precision.
    if (data == images) REQUIRE(acc32 > 0.9);

    for (const std::string precision : {"bf16", "fp16"}) {
      INFO(precision);
      const json half = eval_json(weights, data, "--precision " + precision);
      const double acc = half["accuracy"].get<double>(), loss = half["loss"].get<double>();
      MESSAGE(data << " " << precision << ": accuracy " << acc << ", loss " << loss << " (fp32 "
                   << acc32 << ", " << loss32 << ")");
      CHECK(half["precision"] == precision);
      CHECK(std::abs(acc - acc32) <= 0.05);
      // Half-precision convolutions move the logits: a bit-identical loss means the flag did
      // nothing. bf16's 8-bit mantissa keeps the loss within a few percent.
      CHECK(loss != loss32);
      CHECK(std::abs(loss - loss32) <= 0.05 * loss32 + 0.01);
      int64_t total = 0;
      for (const auto& p : half["per_class"]) total += p["support"].get<int64_t>();
      CHECK(total == kClasses * kPerClass);
    }
  }

  Run table = run_whet("eval --model small_cnn --weights " + weights + " --data folder:" + images +
                       " --workers 0 --precision bf16");
  INFO(table.out);
  CHECK(table.status == 0);
  CHECK(contains(table.out, "compute  bf16 autocast"));
}

TEST_CASE("cli: predict --precision bf16 and fp16 rank as fp32 does, probabilities summing to 1") {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string weights = train_model(dir, images);
  // As in the eval test: images the model is sure of, and fainter ones it often is not.
  const std::vector<std::string> inputs = {images, write_images(dir, /*gain=*/80, "faint")};
  const std::vector<std::vector<double>> f32 = predict_probs(weights, inputs, "");

  for (const std::string precision : {"bf16", "fp16"}) {
    INFO(precision);
    const std::vector<std::vector<double>> half =
        predict_probs(weights, inputs, "--precision " + precision);
    size_t same_top1 = 0;
    double max_diff = 0;
    for (size_t i = 0; i < half.size(); ++i) {
      double sum = 0;
      for (double p : half[i]) {
        CHECK(p >= 0.0);
        sum += p;
      }
      // The softmax runs in float32 whatever the forward's precision: a sum off by more than
      // float32 rounding means the probabilities were computed (or kept) in half precision.
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
      same_top1 += argmax(half[i]) == argmax(f32[i]);
      for (size_t c = 0; c < half[i].size(); ++c)
        max_diff = std::max(max_diff, std::abs(half[i][c] - f32[i][c]));
    }
    // Half precision perturbs the logits by well under a percent (bf16 keeps 8 significant
    // bits), so only an image whose two highest logits are that close can change its top-1; on
    // a trained model that is rare, and 90% still allows a few such images (9 of 96) while a
    // forward that computed garbage would agree on about 1 in kClasses.
    MESSAGE(precision << ": same top-1 for " << same_top1 << " of " << half.size()
                      << " images, largest probability change " << max_diff);
    CHECK(double(same_top1) >= 0.9 * double(half.size()));
    CHECK(max_diff > 0.0);  // the half-precision forward did run
    CHECK(max_diff < 0.1);
  }
}

TEST_CASE("cli: eval and predict refuse --precision tf32 on the CPU, naming the flag") {
  TempDir dir;
  const std::string weights = random_weights(dir);
  const std::string image = dir / "x.png";
  data::write_png(image, Tensor::from_vector(std::vector<uint8_t>(kSide * kSide, 7),
                                             {kSide, kSide, 1}, DType::u8));
  for (const std::string& cmd :
       {"eval --model small_cnn --weights " + weights + " --data folder:" + dir.file("none"),
        "predict --model small_cnn --weights " + weights + " " + image}) {
    INFO(cmd);
    Run r = run_whet(cmd + " --precision tf32 --device cpu");
    INFO(r.out);
    CHECK(r.status != 0);
    CHECK(contains(r.out, "--precision tf32 needs --device cuda"));
    // The same without --device: cpu is the default.
    Run dflt = run_whet(cmd + " --precision tf32");
    CHECK(dflt.status != 0);
    CHECK(contains(dflt.out, "--precision tf32 needs --device cuda"));
  }
}

TEST_CASE("cli: eval and predict refuse an unknown --precision, listing the choices") {
  TempDir dir;
  const std::string weights = random_weights(dir);
  for (const std::string& cmd : {"eval --model small_cnn --weights " + weights + " --data x",
                                 "predict --model small_cnn --weights " + weights + " x.png"}) {
    INFO(cmd);
    Run r = run_whet(cmd + " --precision fp64");
    INFO(r.out);
    CHECK(r.status != 0);
    CHECK(contains(r.out, "--precision"));
    CHECK(contains(r.out, "fp64"));
    for (const char* choice : {"fp32", "tf32", "fp16", "bf16"}) CHECK(contains(r.out, choice));
  }
}

TEST_CASE(
    "eval: evaluate() with an autocast dtype runs the forward in it, then restores the state") {
  TempDir dir;
  const std::string images = write_images(dir);
  models::ModelOptions mo;
  mo.num_classes = kClasses;
  models::ClassifierPtr model = models::create_model("small_cnn", mo);
  data::DataOptions dopt;
  dopt.channels = 1;
  const data::DatasetPtr ds = data::open_data("folder:" + images, dopt).train;
  data::LoaderOptions lo;
  lo.num_workers = 0;
  data::DataLoader loader(ds, data::eval_transform(kSide, 1), lo);

  const train::EvalResult f32 = train::evaluate(*model, loader, kClasses);
  const train::EvalResult bf16 = train::evaluate(*model, loader, kClasses, {}, DType::bf16);
  CHECK_FALSE(autocast_enabled());  // the guard ended with the pass
  CHECK(bf16.num_samples == f32.num_samples);
  CHECK(bf16.loss != f32.loss);
  CHECK(bf16.loss == doctest::Approx(f32.loss).epsilon(0.05));

  // Without the argument the caller's state applies, as before.
  train::EvalResult outer;
  {
    AutocastGuard g(DType::bf16);
    outer = train::evaluate(*model, loader, kClasses);
  }
  CHECK(outer.loss == bf16.loss);
}
