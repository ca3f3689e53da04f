// --ema-decay: the averaged weights (train/weight_ema.h), what a run does with them, and that
// keeping them changes nothing of the training itself.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/registry.h"
#include "tests/test_train_util.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train/weight_ema.h"

using namespace train_test;
using whet::train::TrainConfig;

TEST_CASE("weight EMA: each update moves the average by 1 - d_t towards the model") {
  whet::models::ModelOptions o;
  o.num_classes = 3;
  auto model = whet::models::create_model("small_cnn", o);
  whet::train::WeightEma ema(whet::models::create_model("small_cnn", o), *model, 0.5);
  CHECK(ema.decay_at(0) == doctest::Approx(0.1));   // warm-up: (1 + 0) / (10 + 0)
  CHECK(ema.decay_at(100) == doctest::Approx(0.5));  // past it: the decay itself
  CHECK(!ema.model().is_training());
  CHECK(ema.model().trainable_parameters().empty());

  const whet::nn::NamedTensors start = ema.model().state_dict();
  std::vector<std::vector<double>> before;
  for (const auto& kv : start) before.push_back(kv.second.to_vector<double>());
  // The model moves: every float entry + 1 (parameters and running statistics), the
  // integer counter to 7. The average holds storage of its own, so it has not moved yet.
  whet::NoGradGuard no_grad;
  for (auto& kv : model->state_dict()) {
    Tensor t = kv.second;
    if (whet::is_floating(t.dtype()))
      t.copy_(t + 1.0);
    else
      t.copy_(whet::full({}, 7, t.dtype()));
  }
  for (size_t i = 0; i < start.size(); ++i) CHECK(start[i].second.to_vector<double>() == before[i]);

  ema.update(*model, 100);  // d = 0.5
  const whet::nn::NamedTensors after = ema.model().state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].first);
    const std::vector<double> now = after[i].second.to_vector<double>();
    const bool floating = whet::is_floating(after[i].second.dtype());
    for (size_t k = 0; k < now.size(); ++k)
      CHECK(now[k] == doctest::Approx(floating ? before[i][k] + 0.5 : 7.0));
  }
  CHECK(contains(error_of([&] { whet::train::WeightEma bad(whet::models::create_model("small_cnn", o), *model, 1.0); }),
                 "--ema-decay 1"));
}

TEST_CASE("train: --ema-decay saves and evaluates the average, and trains exactly as without") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  TrainConfig plain = tiny_config(data, dir.file("plain"));
  TrainConfig averaged = tiny_config(data, dir.file("ema"));
  // mobilenet_v3_small: its classifier's dropout draws from the generator that building the
  // average must leave untouched.
  plain.model = averaged.model = "mobilenet_v3_small";
  averaged.ema_decay = 0.8;
  averaged.save = dir.file("ema.safetensors");
  REQUIRE(whet::train::run_training(plain).completed);
  REQUIRE(whet::train::run_training(averaged).completed);

  const auto ck_plain = whet::train::load_checkpoint(dir.file("plain/last.safetensors"));
  const auto ck_ema = whet::train::load_checkpoint(dir.file("ema/last.safetensors"));
  // Same steps, dropout streams and all: the trained weights are the run without EMA's.
  CHECK(bitwise_equal(ck_plain.part("model."), ck_ema.part("model.")));
  CHECK(ck_plain.part("ema.").empty());
  // --save and checkpoint_weights (what --weights, eval and predict read) give the average.
  const auto saved = whet::io::load_safetensors(averaged.save).tensors;
  CHECK(bitwise_equal(saved, ck_ema.part("ema.")));
  CHECK_FALSE(bitwise_equal(saved, ck_ema.part("model.")));
  CHECK(bitwise_equal(whet::train::checkpoint_weights(dir.file("ema/last.safetensors")), saved));
  // eval.json is the average's evaluation: it differs from the plain run's loss.
  const auto eval_plain = nlohmann::json::parse(std::ifstream(dir.file("plain/eval.json")));
  const auto eval_ema = nlohmann::json::parse(std::ifstream(dir.file("ema/eval.json")));
  CHECK(eval_plain["loss"] != eval_ema["loss"]);

  averaged.ema_decay = 1.0;
  CHECK(contains(error_of([&] { whet::train::run_training(averaged); }), "--ema-decay 1: must be in [0, 1)"));
}
