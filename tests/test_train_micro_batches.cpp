// --micro-batches: a batch run in pieces whose gradients add up takes the steps of the whole
// batch, draws the whole batch's dropout masks, and refuses splits that cannot be made.
// The --l2 penalty, compared with weight decay, shares the helpers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "tests/test_train_util.h"
#include "train/trainer.h"

using namespace train_test;
using whet::train::TrainConfig;

namespace {

// The final weights of a run of `c` with `pieces` micro-batches.
whet::io::SafetensorsFile weights_after(TrainConfig c, int64_t pieces, const std::string& dir) {
  c.micro_batches = pieces;
  c.output_dir = dir;
  c.save = dir + "/w.safetensors";
  const whet::train::TrainResult r = whet::train::run_training(c);
  REQUIRE(r.completed);
  return whet::io::load_safetensors(c.save);
}

// Largest difference relative to the tensor's largest value, over every tensor.
double max_relative_difference(const whet::io::SafetensorsFile& a,
                               const whet::io::SafetensorsFile& b) {
  REQUIRE(a.tensors.size() == b.tensors.size());
  double worst = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const std::vector<double> x = a.tensors[i].second.to_vector<double>();
    const std::vector<double> y = b.tensors[i].second.to_vector<double>();
    REQUIRE(x.size() == y.size());
    double scale = 1e-2, diff = 0;  // the floor keeps near-zero tensors from dividing by ~0
    for (size_t k = 0; k < x.size(); ++k) {
      scale = std::max(scale, std::abs(y[k]));
      diff = std::max(diff, std::abs(x[k] - y[k]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

}  // namespace

TEST_CASE("train: micro-batches take the whole batch's steps (BatchNorm frozen)") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  // small_cnn has no dropout; mobilenet_v3_small's classifier has Dropout(0.2), whose masks
  // must be the whole batch's in every piece. Batches of 8 in 2 (4 + 4) and 3 (2 + 3 + 3).
  for (const std::string model : {"small_cnn", "mobilenet_v3_small"}) {
    CAPTURE(model);
    TrainConfig c = tiny_config(data, "");
    c.model = model;
    c.freeze_bn = true;  // BatchNorm in training mode would see each piece's statistics
    // The L1 term is added once per batch, not once per piece. Not with mobilenet_v3_small:
    // its zero-initialised classifier biases sit at the kink of |p|, where a rounding-sized
    // difference in the loss gradient flips the sign of L1's push.
    if (model == "small_cnn") c.l1 = 1e-3;
    // Mixup pairs images of the whole batch, before it is cut into pieces.
    if (model == "small_cnn") c.mixup = 0.4;
    const auto whole = weights_after(c, 1, dir.file(model + "1"));
    for (int64_t pieces : {2, 3}) {
      CAPTURE(pieces);
      const auto split = weights_after(c, pieces, dir.file(model + std::to_string(pieces)));
      CHECK(max_relative_difference(split, whole) < 1e-5);
    }
  }
}

TEST_CASE("train: micro-batches change the steps when they should differ (BatchNorm training)") {
  // The comparison above can fail: with BatchNorm in training mode, each piece normalises by
  // its own statistics, as gradient accumulation does in PyTorch.
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  TrainConfig c = tiny_config(data, "");
  const auto whole = weights_after(c, 1, dir.file("one"));
  const auto split = weights_after(c, 2, dir.file("two"));
  CHECK(max_relative_difference(split, whole) > 1e-4);
}

TEST_CASE("train: --micro-batches of 0, or more than a batch holds, is refused before training") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  TrainConfig c = tiny_config(data, dir.file("run"));
  c.micro_batches = 0;
  CHECK(contains(error_of([&] { whet::train::run_training(c); }), "--micro-batches 0"));
  c.micro_batches = 9;  // more pieces than the 8 images of a batch
  CHECK(contains(error_of([&] { whet::train::run_training(c); }), "--micro-batches 9: must be in [1, --batch-size]"));
}

TEST_CASE("train: --l2 c adds c * sum p^2 to the loss: with SGD, weight decay 2c") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  TrainConfig penalty = tiny_config(data, "");
  penalty.l2 = 0.005;
  TrainConfig decay = tiny_config(data, "");
  decay.weight_decay = 0.01;
  CHECK(max_relative_difference(weights_after(penalty, 1, dir.file("l2")),
                                weights_after(decay, 1, dir.file("wd"))) < 1e-5);
  // And it does something: without either, the weights differ.
  CHECK(max_relative_difference(weights_after(tiny_config(data, ""), 1, dir.file("none")),
                                weights_after(decay, 1, dir.file("wd2"))) > 1e-4);
}
