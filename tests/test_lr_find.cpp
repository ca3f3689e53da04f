// train/lr_find.h and `whet lr-find`: the range test's curve, where it stops, what it
// suggests, and that it writes nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/cli_util.h"
#include "tests/test_train_util.h"
#include "train/trainer.h"

using namespace train_test;

TEST_CASE("lr-find: the suggestion is the steepest fall before the minimum") {
  // A loss that falls fastest at lr = 1e-2 (log-space midpoint of the tanh), bottoms out at
  // 1e-1 and then rises steeply (which must not count as "steep").
  whet::train::LrFindResult r;
  for (int i = 0; i <= 60; ++i) {
    const double e = -5 + i * 0.1, lr = std::pow(10.0, e);
    const double loss = e < -1 ? 1 - std::tanh(3 * (e + 2)) : 1 - std::tanh(3.0) + 5 * (e + 1) * (e + 1);
    r.lrs.push_back(lr), r.losses.push_back(loss), r.smoothed.push_back(loss);
  }
  whet::train::suggest_lr(r);
  CHECK(r.steepest_lr == doctest::Approx(1e-2).epsilon(1e-6));
  CHECK(r.min_lr == doctest::Approx(1e-1).epsilon(1e-6));
  whet::train::LrFindResult tiny;
  tiny.lrs = tiny.smoothed = {1, 2};
  CHECK(contains(error_of([&] { whet::train::suggest_lr(tiny); }), "at least 3"));
}

TEST_CASE("lr-find: the lr rises geometrically until the loss runs away, and no file is written") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  whet::train::TrainConfig c = tiny_config(data, dir.file("never"));
  c.head_lr_mult = 10;  // two parameter groups, the head at 10x: the ratio path runs
  whet::train::Trainer t(c);
  whet::train::LrFindOptions o;
  o.start_lr = 1e-4;
  o.end_lr = 1e4;
  o.steps = 40;
  const whet::train::LrFindResult r = t.find_lr(o);
  CHECK(r.diverged);
  REQUIRE(r.lrs.size() >= 3);
  CHECK(r.lrs.size() < 40);
  CHECK(r.lrs[0] == doctest::Approx(1e-4));
  for (size_t i = 1; i < r.lrs.size(); ++i)
    CHECK(r.lrs[i] / r.lrs[i - 1] == doctest::Approx(std::pow(1e8, 1.0 / 39)));
  CHECK(r.steepest_lr <= r.min_lr);
  CHECK((r.min_lr >= 1e-4 && r.min_lr <= 1e4));
  CHECK_FALSE(std::filesystem::exists(dir.file("never")));

  o.end_lr = o.start_lr;
  CHECK(contains(error_of([&] { t.find_lr(o); }), "must rise"));
}

TEST_CASE("lr-find: the command prints the curve and the suggestion, and --json writes them") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const whet_test::Run r = whet_test::run_whet(
      "lr-find --model small_cnn --data tensors:" + data +
      " --batch-size 8 --workers 0 --steps 12 --start-lr 1e-3 --end-lr 1 --json " + dir.file("lr.json"));
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(whet_test::contains(r.out, "suggested lr:"));
  const auto j = nlohmann::json::parse(std::ifstream(dir.file("lr.json")));
  CHECK(j["lr"].size() == 12);
  CHECK(j["loss"].size() == 12);
  CHECK(j["suggested_lr"].get<double>() > 0);
}
