// The training configuration: TOML in and out, and the checks of resolve().
#include <doctest/doctest.h>

#include <set>

#include "tests/test_train_util.h"
#include "train/config.h"

using namespace train_test;
using whet::train::TrainConfig;

namespace {
std::string apply_error(const std::string& text) {
  TrainConfig c;
  return error_of([&] { whet::train::apply_toml(c, text, "run.toml"); });
}
std::string resolve_error(TrainConfig c) {
  return error_of([&] { whet::train::resolve(c); });
}
TrainConfig valid() {
  TrainConfig c;
  c.model = "small_cnn";
  c.data = "tensors:x.safetensors";
  c.output_dir = "out";
  return c;
}
}  // namespace

TEST_CASE("train: config round-trips through TOML, by section, lists and bools included") {
  TrainConfig c = valid();
  c.freeze = {"features.*", "fc.weight"};
  c.classes = {5, 6, 7};
  c.milestones = {3, 6};
  c.lr = 0.1 + 0.2;  // no short decimal form: must survive anyway
  c.nesterov = true;
  c.shuffle = false;
  c.weights = "it's \"quoted\".pth";
  const std::string text = whet::train::to_toml(c);
  CHECK(contains(text, "[optim]\n"));
  CHECK(contains(text, "# Learning rate"));
  TrainConfig back;
  whet::train::apply_toml(back, text, "config.toml");
  CHECK(whet::train::to_toml(back) == text);
  CHECK(back.freeze == c.freeze);
  CHECK(back.classes == c.classes);
  CHECK(back.lr == c.lr);
  CHECK(back.weights == c.weights);
  CHECK_FALSE(back.shuffle);
}

TEST_CASE("train: config keys go in their section or at the top level - others keep values") {
  TrainConfig c = valid();
  c.epochs = 7;
  whet::train::apply_toml(c, "lr = 1\nfreeze = 'fc.*'\n[data]\nbatch_size = 4\n", "x.toml");
  CHECK(c.lr == 1.0);                                   // an integer where a number is wanted
  CHECK(c.freeze == std::vector<std::string>{"fc.*"});  // one value for a list
  CHECK(c.batch_size == 4);
  CHECK(c.epochs == 7);
  CHECK(c.model == "small_cnn");
}

TEST_CASE("train: config errors name the file, the line and the key") {
  CHECK(contains(apply_error("[optim]\nlrr = 0.1\n"),
                 "run.toml:2: unknown key 'lrr' in [optim] (keys of [optim]: optimizer, lr,"));
  CHECK(contains(apply_error("bogus = 1\n"), "run.toml:1: unknown key 'bogus'"));
  CHECK(contains(apply_error("[data]\nlr = 0.1\n"),
                 "run.toml:2: key 'lr' belongs in [optim], not [data]"));
  CHECK(contains(apply_error("[optimizer]\nlr = 0.1\n"), "unknown section [optimizer]"));
  CHECK(contains(apply_error("epochs = 'ten'\n"),
                 "run.toml:1: 'epochs' must be an integer, "
                 "got a string"));
  CHECK(contains(apply_error("classes = [1, 'x']\n"), "'classes[]' must be an integer"));
  CHECK(contains(apply_error("lr = = 3\n"), "run.toml:1:"));
  // A bad file changes nothing.
  TrainConfig c = valid();
  CHECK_FALSE(error_of([&] { whet::train::apply_toml(c, "lr = 5\nnope = 1\n", "f"); }).empty());
  CHECK(c.lr == 0.01);
}

TEST_CASE("train: resolve checks every value and fills in the optimizer's defaults") {
  TrainConfig c = valid();
  whet::train::resolve(c);
  CHECK(c.weight_decay == 0.0);
  c = valid();
  c.optimizer = "adamw";
  whet::train::resolve(c);
  CHECK(c.weight_decay == 0.01);
  c = valid();
  c.output_dir = "";
  whet::train::resolve(c);
  CHECK(contains(c.output_dir, "runs/small_cnn-"));

  auto with = [](auto edit) {
    TrainConfig c = valid();
    edit(c);
    return resolve_error(c);
  };
  CHECK(contains(with([](TrainConfig& c) { c.model = ""; }), "no model: give --model"));
  CHECK(contains(with([](TrainConfig& c) { c.model = "resnet9"; }), "unknown model 'resnet9'"));
  CHECK(contains(with([](TrainConfig& c) { c.data = ""; }), "no data: give --data"));
  CHECK(contains(with([](TrainConfig& c) { c.optimizer = "lbfgs"; }),
                 "--optimizer 'lbfgs': expected one of sgd, adam, adamw, rmsprop"));
  CHECK(contains(with([](TrainConfig& c) { c.lr = 0; }), "--lr 0: must be positive"));
  CHECK(contains(with([](TrainConfig& c) { c.val_fraction = 1; }), "--val-fraction 1"));
  CHECK(contains(with([](TrainConfig& c) { c.nesterov = true, c.optimizer = "adam"; }),
                 "--nesterov needs --optimizer sgd"));
  CHECK(contains(with([](TrainConfig& c) { c.scheduler = "multistep"; }),
                 "--scheduler multistep needs --milestones"));
  CHECK(contains(with([](TrainConfig& c) { c.device = "gpu"; }), "invalid device 'gpu'"));
  CHECK(contains(with([](TrainConfig& c) { c.precision = "fp8"; }), "--precision 'fp8'"));
  CHECK(contains(with([](TrainConfig& c) { c.layer_decay = 1.5; }), "--layer-decay 1.5"));
  CHECK(contains(with([](TrainConfig& c) { c.loss = "hinge"; }), "--loss 'hinge'"));
}

TEST_CASE("train: every key is unique, documented and has a flag of the same name") {
  CHECK(whet::train::flag_of("num_classes") == "--num-classes");
  std::set<std::string> keys;
  TrainConfig::for_each_field([&](const whet::train::FieldInfo& f, auto) {
    CHECK(keys.insert(f.key).second);
    CHECK(std::string(f.help).size() > 0);
  });
  CHECK(keys.count("layer_decay") == 1);
}
