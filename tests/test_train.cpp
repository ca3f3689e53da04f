// The trainer's pieces: parameter groups, the schedule, the loss, and checkpoints.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "nn/layers.h"
#include "optim/optim.h"
#include "tests/test_train_util.h"
#include "data/tensor_dataset.h"
#include "train/checkpoint.h"
#include "train/criterion.h"
#include "train/param_groups.h"
#include "train/schedule.h"
#include "train/setup.h"
#include "train/trainer.h"

using namespace train_test;
using whet::train::TrainConfig;

namespace {
whet::models::ClassifierPtr make(const std::string& name, int64_t classes = 10) {
  whet::models::ModelOptions o;
  o.num_classes = classes;
  o.init_weights = false;
  return whet::models::create_model(name, o);
}

TrainConfig config_for(const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.data = "unused";
  c.output_dir = "unused";
  whet::train::resolve(c);
  return c;
}
}  // namespace

TEST_CASE("train: stages of the zoo's models for layer-wise lr decay") {
  using V = std::vector<std::string>;
  CHECK(whet::train::model_stages(*make("small_cnn")) ==
        V{"features.0.", "features.2.", "features.3.", "features.5."});
  CHECK(whet::train::model_stages(*make("resnet18")) ==
        V{"conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."});
  V mnv2 = whet::train::model_stages(*make("mobilenet_v2"));
  REQUIRE(mnv2.size() == 19);
  CHECK(mnv2.front() == "features.0.");
  CHECK(mnv2.back() == "features.18.");
}

TEST_CASE("train: parameter groups give the head its lr and decay the stages below it") {
  auto m = make("resnet18");
  TrainConfig c = config_for("resnet18");
  c.lr = 1.0;
  auto groups = whet::train::make_param_groups(*m, c);
  REQUIRE(groups.size() == 1);  // one lr for all
  CHECK(groups[0].name == "all");
  CHECK(groups[0].params.size() == m->named_parameters().size());

  c.head_lr_mult = 10;
  groups = whet::train::make_param_groups(*m, c);
  REQUIRE(groups.size() == 2);
  CHECK(groups[1].name == "head");
  CHECK(groups[1].lr == 10.0);
  CHECK(groups[1].params.size() == 2);  // fc.weight, fc.bias

  c.layer_decay = 0.5;
  c.head_lr_mult = 1;
  groups = whet::train::make_param_groups(*m, c);
  std::vector<std::string> names;
  for (const auto& g : groups) names.push_back(g.name);
  CHECK(names == std::vector<std::string>{"stem", "layer1", "layer2", "layer3", "layer4", "head"});
  CHECK(groups[5].lr == 1.0);
  CHECK(groups[4].lr == 0.5);
  CHECK(groups[0].lr == 1.0 / 32);
  CHECK(groups[0].params.size() == 3);  // conv1.weight, bn1.weight, bn1.bias
  size_t total = 0;
  for (const auto& g : groups) total += g.params.size();
  CHECK(total == m->named_parameters().size());

  // Frozen parameters stay out; a stage with none left disappears.
  whet::nn::freeze_matching(*m, {"conv1.*", "bn1.*", "layer1.*"});
  groups = whet::train::make_param_groups(*m, c);
  CHECK(groups.front().name == "layer2");
  auto opt = whet::train::make_optimizer(groups, c);
  CHECK(opt->num_groups() == 4);
  CHECK(opt->lr(0) == 0.125);

  whet::nn::freeze(*m);
  CHECK(contains(error_of([&] { whet::train::make_param_groups(*m, c); }),
                 "nothing to train: every parameter of resnet18 is frozen"));
}

TEST_CASE("train: --freeze-stages N freezes the first N stages, their BatchNorm statistics too") {
  auto m = make("resnet18");
  TrainConfig c = config_for("resnet18");
  c.freeze_stages = 2;  // stem and layer1
  whet::train::apply_freezing(*m, c);
  for (const auto& [name, p] : m->named_parameters()) {
    CAPTURE(name);
    const bool in_frozen_stage =
        name.rfind("conv1.", 0) == 0 || name.rfind("bn1.", 0) == 0 || name.rfind("layer1.", 0) == 0;
    CHECK(p.requires_grad() == !in_frozen_stage);
  }
  for (auto& [path, mod] : m->named_modules()) {
    if (auto* bn = dynamic_cast<whet::nn::BatchNorm2d*>(mod)) {
      CAPTURE(path);
      CHECK(bn->frozen() == (path == "bn1" || path.rfind("layer1.", 0) == 0));
    }
  }

  // --unfreeze still wins over the stages' parameters.
  m = make("resnet18");
  c.unfreeze = {"layer1.1.*"};
  whet::train::apply_freezing(*m, c);
  for (const auto& [name, p] : m->named_parameters())
    if (name.rfind("layer1.", 0) == 0) CHECK(p.requires_grad() == (name.rfind("layer1.1.", 0) == 0));

  c = config_for("resnet18");
  c.freeze_stages = 6;
  m = make("resnet18");
  CHECK(contains(error_of([&] { whet::train::apply_freezing(*m, c); }),
                 "--freeze-stages 6: resnet18 has 5 stages below its head (stem, layer1, layer2"));
}

TEST_CASE("train: --bias-norm-weight-decay gives the 1-D parameters groups of their own") {
  auto m = make("small_cnn");
  TrainConfig c = config_for("small_cnn");
  c.weight_decay = 0.1;
  c.bias_norm_weight_decay = 0.1;  // the same: no split
  CHECK(whet::train::make_param_groups(*m, c).size() == 1);

  c.bias_norm_weight_decay = 0.0;
  c.head_lr_mult = 10;
  const auto groups = whet::train::make_param_groups(*m, c);
  std::vector<std::string> names;
  for (const auto& g : groups) names.push_back(g.name);
  CHECK(names == std::vector<std::string>{"backbone", "backbone/bias-norm", "head", "head/bias-norm"});
  for (const auto& g : groups) {
    CAPTURE(g.name);
    const bool vectors = g.name.find("/bias-norm") != std::string::npos;
    CHECK(g.weight_decay == (vectors ? 0.0 : 0.1));
    CHECK(g.lr == (g.name.rfind("head", 0) == 0 ? 0.1 : 0.01));
    for (const auto& np : g.params) CHECK((np.second.dim() <= 1) == vectors);
  }

  // Through the optimizer: with zero gradients, plain SGD (lr 1 for all) only decays, and
  // only the matrices and kernels.
  c.momentum = 0;
  c.lr = 1;
  c.head_lr_mult = 1;
  auto opt = whet::train::make_optimizer(whet::train::make_param_groups(*m, c), c);
  const whet::nn::NamedTensors before = m->named_parameters();
  std::vector<std::vector<float>> old;
  for (const auto& np : before) {
    old.push_back(np.second.to_vector<float>());
    np.second.set_grad(whet::zeros_like(np.second));
  }
  opt->step();
  for (size_t i = 0; i < before.size(); ++i) {
    CAPTURE(before[i].first);
    const std::vector<float> now = before[i].second.to_vector<float>();
    const float factor = before[i].second.dim() <= 1 ? 1.0f : 0.9f;
    for (size_t k = 0; k < now.size(); ++k) CHECK(now[k] == doctest::Approx(old[i][k] * factor));
  }
}

TEST_CASE("train: the schedule runs every scheduler with warm-up over the whole run") {
  const int64_t spe = 5, epochs = 4, total = spe * epochs;
  for (const char* kind :
       {"constant", "step", "multistep", "exponential", "cosine", "onecycle", "plateau"}) {
    INFO(kind);
    auto m = make("small_cnn");
    TrainConfig c = config_for("small_cnn");
    c.scheduler = kind;
    c.lr = 0.1;
    c.step_size = 1;
    c.gamma = 0.5;
    c.milestones = {2, 3};
    c.patience = 0;
    c.warmup_epochs = 1;
    c.epochs = epochs;
    auto opt = whet::train::make_optimizer(whet::train::make_param_groups(*m, c), c);
    whet::train::Schedule s(*opt, c, spe, total);
    const std::string k = kind;
    // Warm-up starts at 1% (of one-cycle's own starting lr, max_lr / 25, for onecycle).
    CHECK(opt->lr(0) == doctest::Approx(k == "onecycle" ? 0.004 * 0.01 : 0.001));
    std::vector<double> lrs;
    for (int64_t e = 0; e < epochs; ++e) {
      for (int64_t i = 0; i < spe; ++i) {
        lrs.push_back(opt->lr(0));
        s.after_step();
      }
      s.after_epoch(1.0);  // never improves: plateau decays after each epoch past warm-up
    }
    // Warm-up done after one epoch.
    CHECK(lrs[size_t(spe)] == doctest::Approx(k == "onecycle" ? 0.004 : 0.1));
    if (k == "constant") CHECK(lrs.back() == doctest::Approx(0.1));
    if (k == "step") CHECK(lrs[size_t(2 * spe)] == doctest::Approx(0.05));
    if (k == "multistep") {
      CHECK(lrs[size_t(2 * spe) - 1] == doctest::Approx(0.1));
      CHECK(lrs[size_t(2 * spe)] == doctest::Approx(0.05));
      CHECK(lrs[size_t(3 * spe)] == doctest::Approx(0.025));
    }
    if (k == "exponential") CHECK(lrs[size_t(2 * spe)] == doctest::Approx(0.05));
    if (k == "cosine") CHECK(lrs.back() < 0.01);
    if (k == "onecycle")
      CHECK(*std::max_element(lrs.begin(), lrs.end()) == doctest::Approx(0.1).epsilon(0.01));
    if (k == "plateau") {
      CHECK(lrs[size_t(2 * spe)] == doctest::Approx(0.05));  // epoch 1 set the best
      CHECK(lrs[size_t(3 * spe)] == doctest::Approx(0.025));
    }

    // The state round-trips into a fresh schedule.
    auto opt2 = whet::train::make_optimizer(whet::train::make_param_groups(*m, c), c);
    whet::train::Schedule s2(*opt2, c, spe, total);
    opt2->load_state_dict(opt->state_dict());
    s2.load_state_dict(s.state_dict());
    CHECK(bitwise_equal(s.state_dict(), s2.state_dict()));
  }
  TrainConfig c = config_for("small_cnn");
  c.warmup_epochs = 4;
  auto m = make("small_cnn");
  auto opt = whet::train::make_optimizer(whet::train::make_param_groups(*m, c), c);
  CHECK(contains(error_of([&] { whet::train::Schedule s(*opt, c, 5, 20); }),
                 "must be shorter than the run"));
}

TEST_CASE("train: ce, mse and bce on one-hot targets, with label smoothing") {
  Tensor logits = Tensor::from_vector(std::vector<float>{2, 0, -1, 0.5f, 1, 0}, {2, 3});
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  CHECK(whet::train::one_hot(labels, 3).to_vector<float>() == std::vector<float>{1, 0, 0, 0, 0, 1});
  whet::train::Criterion ce("ce", 3, 0.0), mse("mse", 3, 0.1), bce("bce", 3, 0.0);
  // -log softmax: row 0 picks 2 of (2, 0, -1); row 1 picks 0 of (0.5, 1, 0).
  auto lse = [](double a, double b, double c) {
    return std::log(std::exp(a) + std::exp(b) + std::exp(c));
  };
  double want_ce = ((lse(2, 0, -1) - 2) + (lse(0.5, 1, 0) - 0)) / 2;
  CHECK(ce(logits, labels).item() == doctest::Approx(want_ce));
  // Smoothed targets: 0.9 * one_hot + 0.1 / 3.
  const double hi = 0.9 + 0.1 / 3, lo = 0.1 / 3;
  double want_mse = (std::pow(2 - hi, 2) + std::pow(0 - lo, 2) + std::pow(-1 - lo, 2) +
                     std::pow(0.5 - lo, 2) + std::pow(1 - lo, 2) + std::pow(0 - hi, 2)) /
                    6;
  CHECK(mse(logits, labels).item() == doctest::Approx(want_mse));
  CHECK(mse(logits, labels, /*smoothing=*/false).item() ==
        doctest::Approx((1 + 0 + 1 + 0.25 + 1 + 1) / 6.0));
  auto sp = [](double x, double y) {
    return std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
  };
  double want_bce = (sp(2, 1) + sp(0, 0) + sp(-1, 0) + sp(0.5, 0) + sp(1, 0) + sp(0, 1)) / 6;
  CHECK(bce(logits, labels).item() == doctest::Approx(want_bce));
}

TEST_CASE("train: --class-weights weight the cross-entropy, balanced from the training counts") {
  Tensor logits = Tensor::from_vector(std::vector<float>{2, 0, -1, 0.5f, 1, 0}, {2, 3});
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 2}, {2});
  auto lse = [](double a, double b, double c) {
    return std::log(std::exp(a) + std::exp(b) + std::exp(c));
  };
  const double l0 = lse(2, 0, -1) - 2, l1 = lse(0.5, 1, 0) - 0;
  Tensor w = Tensor::from_vector(std::vector<float>{1, 5, 3}, {3});
  whet::train::Criterion ce("ce", 3, 0.0, w);
  // PyTorch's weighted mean: (1 * l0 + 3 * l1) / (1 + 3).
  CHECK(ce(logits, labels).item() == doctest::Approx((l0 + 3 * l1) / 4));
  CHECK(ce(logits, labels, /*training=*/false).item() == doctest::Approx((l0 + l1) / 2));
  CHECK(contains(error_of([&] { whet::train::Criterion bad("mse", 3, 0.0, w); }), "--loss ce"));

  // 16 images of class 0 and 4 of each other class: n = 28, balanced weights 28 / (4 * 16)
  // and 28 / (4 * 4).
  std::vector<int64_t> y(16, 0);
  for (int64_t c = 1; c < 4; ++c) y.insert(y.end(), 4, c);
  const auto subset = std::make_shared<whet::data::TensorDataset>(
      zeros({28, 2, 2, 1}), Tensor::from_vector(y, {28}), std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(whet::train::class_weights_for("balanced", *subset, 4).to_vector<float>() ==
        std::vector<float>{0.4375f, 1.75f, 1.75f, 1.75f});
  CHECK(whet::train::class_weights_for("1,2.5,1,4", *subset, 4).to_vector<float>() ==
        std::vector<float>{1, 2.5f, 1, 4});
  CHECK(contains(error_of([&] { whet::train::class_weights_for("1,2", *subset, 4); }),
                 "has 2 weights; the model has 4 classes"));
  CHECK(contains(error_of([&] { whet::train::class_weights_for("1,x,1,1", *subset, 4); }),
                 "'x' is not a positive number"));
  CHECK(contains(error_of([&] { whet::train::class_weights_for("1,0,1,1", *subset, 4); }),
                 "'0' is not a positive number"));
  CHECK(contains(error_of([&] { whet::train::class_weights_for("balanced", *subset, 5); }),
                 "class 4"));
}

TEST_CASE("train: checkpoints hold prefixed state and metadata, and refuse other files") {
  TempDir dir;
  whet::train::Checkpoint ck;
  ck.add("model.", {{"fc.weight", ones({2, 3})}});
  ck.add_int("train.global_step", 42);
  ck.add_real("train.best_val_acc", std::nan(""));
  Generator g(123);
  g.advance(1000);
  ck.add("rng.default.", whet::train::generator_state(g));
  ck.metadata["config"] = "[model]\nmodel = 'small_cnn'\n";
  const std::string path = dir / "last.safetensors";
  whet::train::save_checkpoint(path, ck);

  whet::train::Checkpoint back = whet::train::load_checkpoint(path);
  CHECK(back.metadata.at("format") == "whet-checkpoint");
  CHECK(back.get_int("train.global_step") == 42);
  CHECK(std::isnan(back.get_real("train.best_val_acc")));
  Generator h;
  whet::train::load_generator_state(h, back.part("rng.default."));
  CHECK(h.seed() == 123);
  CHECK(h.offset() == 1000);
  CHECK(whet::train::checkpoint_config(back, path).model == "small_cnn");
  auto w = whet::train::checkpoint_weights(path);
  REQUIRE(w.size() == 1);
  CHECK(w[0].first == "fc.weight");

  const std::string plain = dir / "plain.safetensors";
  io::save_safetensors(plain, {{"x", ones({1})}});
  CHECK(contains(error_of([&] { whet::train::load_checkpoint(plain); }),
                 "is not a whet training checkpoint"));
  CHECK(whet::train::checkpoint_weights(plain).size() == 1);  // plain weights pass through
  CHECK(contains(error_of([&] { whet::train::load_checkpoint(dir / "none.safetensors"); }),
                 "no checkpoint at"));
}

TEST_CASE("train: a loss that turns non-finite stops the run at its step, last checkpoint kept") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir / "d.safetensors");
  whet::train::TrainConfig c = train_test::tiny_config(data, dir / "run");
  c.checkpoint_every = 1;
  c.optimizer = "sgd";
  c.lr = 1e38;  // within a few updates the logits pass float32's range
  whet::train::Trainer t(c);
  const std::string message = error_of([&] { t.run(); });
  INFO(message);
  CHECK(contains(message, "training stopped: the loss is"));
  CHECK(contains(message, "--lr"));
  // The checkpoint written last is the step before the one that diverged, with finite sums.
  const whet::train::Checkpoint ck =
      whet::train::load_checkpoint(whet::train::last_checkpoint_path(dir / "run"));
  const int64_t saved = ck.get_int("train.global_step");
  CHECK(saved >= 1);
  CHECK(contains(message, "at step " + std::to_string(saved + 1)));
  CHECK(std::isfinite(ck.get_real("train.loss_sum")));
}
