// timm's weights in whet's torchvision-named models (models/timm_names.h), against timm
// itself (fixtures from tools/golden/make_timm_fixtures.py): a state dict named as timm names
// it, every entry filled from the shared formula, is imported and loaded strictly, and the
// model must compute timm's float32 eval logits and, in float64, its train-mode logits,
// loss, gradients and BatchNorm running statistics (timm's eps and momentum included).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/registry.h"
#include "models/timm_names.h"
#include "nn/loss.h"
#include "tests/cli_util.h"
#include "tests/golden_util.h"
#include "tests/model_formula.h"
#include "tests/test_train_util.h"

using namespace whet;
using golden::check_close;

namespace {

// The timm model's state dict, as the fixture lists its names and shapes, from the formula.
nn::NamedTensors timm_state_dict(const golden::Fixture& fx) {
  nn::NamedTensors sd;
  for (const auto& entry : nlohmann::json::parse(fx.metadata("keys"))) {
    const std::string name = entry[0].get<std::string>();
    const Shape shape = entry[1].get<Shape>();
    if (golden::is_batch_counter(name))
      sd.emplace_back(name, Tensor::from_vector(std::vector<int64_t>{0}, shape, DType::i64));
    else
      sd.emplace_back(name, golden::formula(name, shape));
  }
  return sd;
}

void check_timm(const std::string& timm_name, const std::string& expected_source) {
  INFO("timm model ", timm_name);
  golden::Fixture fx("timm_" + timm_name + ".safetensors");
  const std::string whet_name = fx.metadata("whet_model");
  const models::ImportedWeights w = models::import_weights(whet_name, timm_state_dict(fx));
  CHECK(w.source == expected_source);

  models::ModelOptions o;
  o.num_classes = 10;
  o.init_weights = false;  // every value comes from the file
  o.width_mult = std::stod(fx.metadata("width_mult"));
  o.bn_eps = w.bn_eps;
  o.bn_momentum = w.bn_momentum;
  o.width_rule = w.width_rule;
  models::ClassifierPtr model = models::create_model(whet_name, o);
  io::load_pytorch_state_dict(*model, w.tensors, /*strict=*/true);  // every key, every shape

  const Tensor x = permute(golden::formula("input", {2, 3, 64, 64}), {0, 2, 3, 1});
  model->eval();
  {
    NoGradGuard no_grad;
    check_close("logits_eval", model->forward(x), fx["logits_eval"]);
  }

  using golden::kF64Atol;
  using golden::kF64Rtol;
  model->to(DType::f64);
  model->train();
  for (auto& [path, m] : model->named_modules())
    if (auto* d = dynamic_cast<nn::Dropout*>(m)) d->p = 0.0;  // as the fixture
  Tensor logits = model->forward(x.to(DType::f64));
  check_close("logits_train", logits, fx["logits_train"], kF64Rtol, kF64Atol);
  Tensor loss = nn::cross_entropy_loss(logits, fx["target"]);
  check_close("loss", loss, fx["loss"], kF64Rtol, kF64Atol);
  loss.backward();

  NoGradGuard no_grad;
  Tensor squares = zeros({}, DType::f64);
  for (const Tensor& p : model->trainable_parameters())
    squares = squares + sum(mul(p.grad(), p.grad()));
  check_close("grad_norm", sqrt(squares), fx["grad_norm"], kF64Rtol, kF64Atol);
  check_close("grad.stem", model->stem().weight.grad().flatten().slice(0, 256), fx["grad.stem"],
              kF64Rtol, kF64Atol);
  Tensor mean_sum = zeros({}, DType::f64), var_sum = zeros({}, DType::f64);
  for (auto& [path, m] : model->named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      mean_sum = mean_sum + sum(bn->running_mean);
      var_sum = var_sum + sum(bn->running_var);
    }
  check_close("running_mean_sum", mean_sum, fx["running_mean_sum"], kF64Rtol, kF64Atol);
  check_close("running_var_sum", var_sum, fx["running_var_sum"], kF64Rtol, kF64Atol);
}

}  // namespace

TEST_CASE("timm weights: resnet18 keeps torchvision's names") { check_timm("resnet18", ""); }

TEST_CASE("timm weights: resnet50 keeps torchvision's names") { check_timm("resnet50", ""); }

TEST_CASE("timm weights: mobilenetv2_100 into mobilenet_v2") {
  check_timm("mobilenetv2_100", "timm");
}

TEST_CASE("timm weights: mobilenetv2_050 and mobilenetv2_140 into mobilenet_v2 of that width") {
  check_timm("mobilenetv2_050", "timm");
  check_timm("mobilenetv2_140", "timm");
}

TEST_CASE("timm weights: mobilenetv3_small_100 into mobilenet_v3_small") {
  check_timm("mobilenetv3_small_100", "timm");
}

TEST_CASE("timm weights: mobilenetv3_large_100 into mobilenet_v3_large") {
  check_timm("mobilenetv3_large_100", "timm");
}

TEST_CASE("timm weights: mobilenetv3_small_050, _small_075 and _large_075 by timm's width rule") {
  // timm fixes the stem at 16 below 0.75, expands each block's rounded input by its ratio and
  // keeps the 1024/1280 head: at these widths torchvision's rule builds other shapes.
  check_timm("mobilenetv3_small_050", "timm");
  check_timm("mobilenetv3_small_075", "timm");
  check_timm("mobilenetv3_large_075", "timm");
  for (const char* name :
       {"mobilenetv3_small_050", "mobilenetv3_small_075", "mobilenetv3_large_075"}) {
    INFO(name);
    golden::Fixture fx(std::string("timm_") + name + ".safetensors");
    const std::string whet_name = fx.metadata("whet_model");
    const models::ImportedWeights w = models::import_weights(whet_name, timm_state_dict(fx));
    CHECK(w.width_rule == models::WidthRule::timm);
    models::ModelOptions o;
    o.num_classes = 10;
    o.init_weights = false;
    o.width_mult = std::stod(fx.metadata("width_mult"));
    const models::ClassifierPtr torchvision_rule = models::create_model(whet_name, o);
    CHECK_FALSE(io::load_pytorch_state_dict(*torchvision_rule, w.tensors, /*strict=*/false).ok());
  }
}

TEST_CASE("timm width rule: equal to torchvision's at width 1, refused outside MobileNetV3") {
  for (const char* name : {"mobilenet_v3_small", "mobilenet_v3_large"}) {
    INFO(name);
    models::ModelOptions o;
    o.init_weights = false;
    const models::ClassifierPtr tv = models::create_model(name, o);
    o.width_rule = models::WidthRule::timm;
    const models::ClassifierPtr timm = models::create_model(name, o);
    const nn::NamedTensors a = tv->state_dict(), b = timm->state_dict();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].first == b[i].first);
      CHECK(a[i].second.shape() == b[i].second.shape());
    }
  }
  models::ModelOptions o;
  o.width_rule = models::WidthRule::timm;
  CHECK(train_test::contains(train_test::error_of([&] { models::create_model("mobilenet_v2", o); }),
                             "mobilenet_v2: the timm width rule applies to MobileNetV3 only"));
  CHECK(train_test::contains(
      train_test::error_of([&] { models::parse_width_rule("tf", "--width-rule"); }),
      "--width-rule 'tf': expected torchvision or timm"));
}

TEST_CASE("timm weights: import errors name the problem") {
  nn::NamedTensors sd = {{"conv_stem.weight", zeros({16, 3, 3, 3})},
                         {"blocks.0.0.conv_dw.weight", zeros({16, 1, 3, 3})},
                         {"blocks.0.0.bn1.weight", zeros({16})}};
  CHECK(train_test::contains(train_test::error_of([&] { models::import_weights("resnet18", sd); }),
                             "carry timm's MobileNet names (conv_stem, blocks.*), and resnet18 "
                             "is no MobileNet"));
  // A depthwise convolution alone is no block whet knows.
  CHECK(train_test::contains(
      train_test::error_of([&] { models::import_weights("mobilenet_v3_small", sd); }),
      "timm block blocks.0.0: a timm block with layers bn1, conv_dw fits no MobileNet block"));
  sd.emplace_back("blocks.0.0.conv_pw.weight", zeros({16, 16, 1, 1}));
  sd.emplace_back("blocks.0.0.bn2.weight", zeros({16}));
  sd.emplace_back("blocks.0.0.gate.weight", zeros({16}));
  CHECK(train_test::contains(
      train_test::error_of([&] { models::import_weights("mobilenet_v3_small", sd); }),
      "timm block layer 'gate' has no counterpart"));
  // torchvision's names pass through as they are.
  const nn::NamedTensors tv = {{"features.0.0.weight", zeros({16, 3, 3, 3})}};
  const models::ImportedWeights same = models::import_weights("mobilenet_v3_small", tv);
  CHECK(same.source.empty());
  CHECK(same.bn_eps == 0);
  CHECK(same.tensors.front().first == "features.0.0.weight");
}

namespace {

namespace fs = std::filesystem;
using whet_test::Run;
using whet_test::run_whet;

// The fixture's timm state dict written to `path`, as a timm checkpoint holds it.
std::string write_timm_file(const golden::Fixture& fx, const std::string& path) {
  io::save_safetensors(path, timm_state_dict(fx), {{"format", "pt"}});
  return path;
}

// `whet eval --model MODEL_FLAGS ... --json -` on 32x32 tensor data.
Run eval_run(const std::string& model_flags, const std::string& weights, const std::string& data) {
  return run_whet("eval --model " + model_flags + " --weights " + weights + " --data tensors:" +
                      data + " --augment none --image-size 32 --workers 0 --json -",
                  /*stdout_only=*/true);
}

// Its loss, for mobilenet_v3_small.
double eval_loss(const std::string& weights, const std::string& data) {
  Run r = eval_run("mobilenet_v3_small", weights, data);
  INFO(weights, ": ", r.out);
  REQUIRE(r.status == 0);
  return nlohmann::json::parse(r.out)["loss"].get<double>();
}

// `whet forward --model MODEL_FLAGS` of the fixture's input computes the fixture's logits.
void check_forward(const std::string& model_flags, const std::string& weights,
                   const train_test::TempDir& dir, const golden::Fixture& fx) {
  const std::string in = dir / "in.safetensors", out = dir / "out.safetensors";
  io::save_safetensors(
      in, {{"input", permute(golden::formula("input", {2, 3, 64, 64}), {0, 2, 3, 1})}});
  Run r = run_whet("forward --model " + model_flags + " --num-classes 10 --weights " + weights +
                   " --input " + in + " --output " + out);
  INFO(r.out);
  REQUIRE(r.status == 0);
  check_close("logits", io::load_safetensors(out).tensors.at(0).second, fx["logits_eval"]);
}

// `file` written again with its metadata keys `drop` left out.
std::string without_metadata(const std::string& file, const std::string& out,
                             const std::vector<std::string>& drop) {
  io::SafetensorsFile f = io::load_safetensors(file);
  for (const std::string& k : drop) f.metadata.erase(k);
  io::save_safetensors(out, f.tensors, f.metadata);
  return out;
}

}  // namespace

TEST_CASE("timm weights: whet train, eval and forward build timm's MobileNetV3 from its file") {
  train_test::TempDir dir;
  const golden::Fixture fx("timm_mobilenetv3_small_100.safetensors");
  const std::string timm_file = write_timm_file(fx, dir / "timm.safetensors");
  const std::string data = train_test::write_tensor_data(dir / "data.safetensors", 40, 10, 32);

  SUBCASE("forward computes timm's logits") {
    check_forward("mobilenet_v3_small", timm_file, dir, fx);
  }

  SUBCASE("inspect loads every entry") {
    Run r = run_whet("inspect --model mobilenet_v3_small --num-classes 10 --weights " + timm_file);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(whet_test::contains(r.out, "(timm's names, translated): loaded 244 of 244 entries"));
  }

  SUBCASE("eval normalises as timm; the same weights under torchvision's names do not") {
    // The import's result saved under torchvision's names, without and with the settings.
    const models::ImportedWeights w =
        models::import_weights("mobilenet_v3_small", timm_state_dict(fx));
    const std::string plain = dir / "plain.safetensors", marked = dir / "marked.safetensors";
    io::save_safetensors(plain, w.tensors, {{"format", "pt"}});
    io::save_safetensors(marked, w.tensors,
                         {{"format", "pt"}, {"bn_eps", "1e-05"}, {"bn_momentum", "0.1"}});
    const double timm_loss = eval_loss(timm_file, data);
    CHECK(eval_loss(marked, data) == timm_loss);
    CHECK(eval_loss(plain, data) != timm_loss);  // torchvision's eps 1e-3 computes otherwise
  }

  SUBCASE("convert --model writes torchvision's names and timm's BatchNorm settings") {
    const std::string converted = dir / "converted.safetensors";
    Run r = run_whet("convert --model mobilenet_v3_small " + timm_file + " " + converted);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(whet_test::contains(r.out, "timm's names translated to mobilenet_v3_small's"));
    const io::SafetensorsFile f = io::load_safetensors(converted);
    CHECK(f.metadata.at("bn_eps") == "1e-05");
    CHECK(f.metadata.at("bn_momentum") == "0.1");
    int stems = 0, timm_names = 0;
    for (const auto& [name, t] : f.tensors) {
      stems += name == "features.0.0.weight";
      timm_names += name.rfind("conv_stem", 0) == 0 || name.rfind("blocks.", 0) == 0;
    }
    CHECK(stems == 1);
    CHECK(timm_names == 0);
    CHECK(eval_loss(converted, data) == eval_loss(timm_file, data));
    Run wrong = run_whet("convert --model resnet18 " + timm_file + " " + converted);
    CHECK(wrong.status != 0);
    CHECK(whet_test::contains(wrong.out, "resnet18 is no MobileNet"));
    Run train =
        run_whet("train --model resnet18 --weights " + timm_file + " --data tensors:" + data +
                 " --epochs 1 --workers 0 --output-dir " + (dir / "wrong"));
    CHECK(train.status != 0);
    CHECK(whet_test::contains(train.out, "--weights " + timm_file + ": the weights carry timm's"));
  }

  SUBCASE("train records timm's BatchNorm settings; eval reads them back") {
    const std::string run_dir = dir / "run", saved = dir / "final.safetensors";
    Run r = run_whet("train --model mobilenet_v3_small --weights " + timm_file +
                     " --data tensors:" + data +
                     " --image-size 32 --augment none --epochs 1 "
                     "--batch-size 8 --max-steps-per-epoch 2 --workers 0 --lr 0.01 --output-dir " +
                     run_dir + " --save " + saved);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(whet_test::contains(r.out,
                              "(timm's names, translated; BatchNorm eps 1e-05, momentum "
                              "0.1 as timm's)"));
    std::stringstream config;
    config << std::ifstream(run_dir + "/config.toml").rdbuf();
    INFO(config.str());
    CHECK(whet_test::contains(config.str(), "bn_eps = 1e-05\n"));
    CHECK(whet_test::contains(config.str(), "bn_momentum = 0.1\n"));
    const auto metadata = io::load_safetensors(saved).metadata;
    CHECK(metadata.at("bn_eps") == "1e-05");
    CHECK(metadata.at("bn_momentum") == "0.1");

    // The saved weights (metadata), the checkpoint (its config) and nothing (the model's own).
    const double saved_loss = eval_loss(saved, data);
    CHECK(eval_loss(run_dir + "/last.safetensors", data) == saved_loss);
    const std::string bare =
        without_metadata(saved, dir / "bare.safetensors", {"bn_eps", "bn_momentum"});
    CHECK(eval_loss(bare, data) != saved_loss);
  }
}

TEST_CASE("timm weights: --width-mult trains, saves and evaluates timm's mobilenetv2_050") {
  train_test::TempDir dir;
  const golden::Fixture fx("timm_mobilenetv2_050.safetensors");
  const std::string timm_file = write_timm_file(fx, dir / "timm050.safetensors");
  const std::string data = train_test::write_tensor_data(dir / "data.safetensors", 40, 10, 32);

  // Without the width the file fits no mobilenet_v2; with it, every entry loads.
  Run narrow = eval_run("mobilenet_v2", timm_file, data);
  CHECK(narrow.status != 0);
  REQUIRE(eval_run("mobilenet_v2 --width-mult 0.5", timm_file, data).status == 0);
  Run inspect = run_whet(
      "inspect --model mobilenet_v2 --width-mult 0.5 --num-classes 10 "
      "--weights " +
      timm_file);
  CHECK(whet_test::contains(inspect.out, "loaded 314 of 314 entries"));
  check_forward("mobilenet_v2 --width-mult 0.5", timm_file, dir, fx);

  const std::string saved = dir / "final.safetensors";
  Run r = run_whet("train --model mobilenet_v2 --width-mult 0.5 --weights " + timm_file +
                   " --data tensors:" + data +
                   " --image-size 32 --augment none --epochs 1 "
                   "--batch-size 8 --max-steps-per-epoch 1 --workers 0 --output-dir " +
                   (dir / "run") + " --save " + saved);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(io::load_safetensors(saved).metadata.at("width_mult") == "0.5");
  // The saved weights and the run's checkpoint say their width themselves.
  Run from_saved = eval_run("mobilenet_v2", saved, data);
  Run from_checkpoint = eval_run("mobilenet_v2", dir / "run/last.safetensors", data);
  REQUIRE(from_saved.status == 0);
  REQUIRE(from_checkpoint.status == 0);
  CHECK(nlohmann::json::parse(from_saved.out)["loss"] ==
        nlohmann::json::parse(from_checkpoint.out)["loss"]);
}

TEST_CASE("timm weights: mobilenetv3_small_050 trains, saves, converts and evaluates by its rule") {
  train_test::TempDir dir;
  const golden::Fixture fx("timm_mobilenetv3_small_050.safetensors");
  const std::string timm_file = write_timm_file(fx, dir / "timm050.safetensors");
  const std::string data = train_test::write_tensor_data(dir / "data.safetensors", 40, 10, 32);
  const std::string model = "mobilenet_v3_small --width-mult 0.5";

  check_forward(model, timm_file, dir, fx);
  Run inspect = run_whet("inspect --model " + model + " --num-classes 10 --weights " + timm_file);
  CHECK(whet_test::contains(inspect.out, "loaded 244 of 244 entries"));
  Run tv_rule = run_whet("inspect --model " + model +
                         " --width-rule torchvision --num-classes 10 "
                         "--weights " +
                         timm_file);
  CHECK_FALSE(whet_test::contains(tv_rule.out, "loaded 244 of 244 entries"));

  const std::string converted = dir / "converted.safetensors";
  REQUIRE(run_whet("convert --model mobilenet_v3_small " + timm_file + " " + converted).status ==
          0);
  CHECK(io::load_safetensors(converted).metadata.at("width_rule") == "timm");
  Run from_timm = eval_run(model, timm_file, data),
      from_converted = eval_run(model, converted, data);
  REQUIRE(from_timm.status == 0);
  REQUIRE(from_converted.status == 0);
  CHECK(nlohmann::json::parse(from_timm.out)["loss"] ==
        nlohmann::json::parse(from_converted.out)["loss"]);

  const std::string run_dir = dir / "run", saved = dir / "final.safetensors";
  Run r =
      run_whet("train --model " + model + " --weights " + timm_file + " --data tensors:" + data +
               " --image-size 32 --augment none --epochs 1 --batch-size 8 "
               "--max-steps-per-epoch 1 --workers 0 --output-dir " +
               run_dir + " --save " + saved);
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::stringstream config;
  config << std::ifstream(run_dir + "/config.toml").rdbuf();
  CHECK(whet_test::contains(config.str(), "width_rule = 'timm'\n"));
  CHECK(io::load_safetensors(saved).metadata.at("width_rule") == "timm");
  // The saved weights and the checkpoint say their width and rule themselves.
  Run from_saved = eval_run("mobilenet_v3_small", saved, data);
  Run from_checkpoint = eval_run("mobilenet_v3_small", run_dir + "/last.safetensors", data);
  INFO(from_saved.out, from_checkpoint.out);
  REQUIRE(from_saved.status == 0);
  REQUIRE(from_checkpoint.status == 0);
  CHECK(nlohmann::json::parse(from_saved.out)["loss"] ==
        nlohmann::json::parse(from_checkpoint.out)["loss"]);
  Run bare = eval_run("mobilenet_v3_small --width-mult 0.5",
                      without_metadata(saved, dir / "bare.safetensors", {"width_rule"}), data);
  CHECK(bare.status != 0);  // torchvision's rule builds other shapes
}
