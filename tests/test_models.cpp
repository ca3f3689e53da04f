// The model zoo: torchvision's parameter counts and names, head replacement, stem adaptation,
// any input size, the module summary behind `whet inspect`, and the model CLI commands.
#include <doctest/doctest.h>

#include "tests/cli_util.h"

#include <unistd.h>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/mobilenet_blocks.h"
#include "models/registry.h"
#include "models/summary.h"
#include "nn/freeze.h"
#include "nn/loss.h"
#include "tests/golden_util.h"

using namespace whet;
using models::ClassifierPtr;
using models::create_model;

namespace {

struct KeyList {
  int64_t num_params = 0;
  std::vector<std::pair<std::string, Shape>> params, buffers;  // PyTorch shapes
};

// tests/golden/models_keys.txt, written by tools/golden/make_model_fixtures.py.
std::map<std::string, KeyList> torchvision_keys() {
  std::ifstream f(std::string(WHET_SOURCE_DIR) + "/tests/golden/models_keys.txt");
  REQUIRE(f.good());
  std::map<std::string, KeyList> out;
  KeyList* cur = nullptr;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    std::string kind, name, dims;
    is >> kind >> name;
    if (kind == "model") {
      cur = &out[name];
      is >> cur->num_params;
      continue;
    }
    REQUIRE(cur != nullptr);
    Shape s;
    is >> dims;
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, ',');) s.push_back(std::stoll(d));
    (kind == "P" ? cur->params : cur->buffers).emplace_back(name, s);
  }
  return out;
}

Shape pytorch_shape(const Tensor& t) {
  const Shape& s = t.shape();
  return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s;
}

int64_t count_params(const nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

models::ModelOptions with_classes(int64_t k, int64_t in_channels = 0, bool init = true) {
  models::ModelOptions o;
  o.num_classes = k;
  o.in_channels = in_channels;
  o.init_weights = init;
  return o;
}

using whet_test::Run;
Run run_cli(const std::string& args) { return whet_test::run_whet(args); }

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

// Each model is built once (construction initialises every weight: the slow part) and
// checked for everything that needs a fresh 1000-class instance.
TEST_CASE("models: torchvision's counts, names and shapes - heads - init - forward at 28x28") {
  const std::map<std::string, std::pair<int64_t, std::string>> expected = {
      {"resnet18", {11689512, "fc."}},
      {"resnet34", {21797672, "fc."}},
      {"resnet50", {25557032, "fc."}},
      {"resnet101", {44549160, "fc."}},
      {"mobilenet_v2", {3504872, "classifier.1."}},
      {"mobilenet_v3_small", {2542856, "classifier.3."}},
      {"mobilenet_v3_large", {5483032, "classifier.3."}},
      {"small_cnn", {0, "fc."}}};  // ours: no torchvision twin
  auto keys = torchvision_keys();
  for (const auto& [name, want] : expected) {
    INFO("model ", name);
    const auto& [count, head] = want;
    // The big ResNets skip torchvision's init (normal draws dominate construction time):
    // resnet18 checks it for them all.
    const bool big = name == "resnet34" || name == "resnet50" || name == "resnet101";
    models::ModelOptions o;
    o.init_weights = !big;
    ClassifierPtr m = create_model(name, o);
    CHECK(m->head_prefix() == head);
    CHECK(m->num_classes() == 1000);
    if (count > 0) {
      CHECK(count_params(*m) == count);
      REQUIRE(keys.count(name) == 1);
      const KeyList& tv = keys[name];
      CHECK(tv.num_params == count);
      auto check_list = [&](const nn::NamedTensors& ours,
                            const std::vector<std::pair<std::string, Shape>>& theirs) {
        REQUIRE(ours.size() == theirs.size());
        for (size_t i = 0; i < ours.size(); ++i) {
          INFO("entry ", i, ": ", ours[i].first, " vs ", theirs[i].first);
          CHECK(ours[i].first == theirs[i].first);
          CHECK(pytorch_shape(ours[i].second) == theirs[i].second);
        }
      };
      check_list(m->named_parameters(), tv.params);
      check_list(m->named_buffers(), tv.buffers);
    }

    // torchvision's init: BatchNorm weight 1 and bias 0; convs kaiming_normal(fan_out);
    // MobileNet heads N(0, 0.01) with bias 0, ResNet's nn.Linear's default.
    const double linear_bound = 1.0 / std::sqrt(double(m->num_features()));
    for (auto& [path, mod] : m->named_modules())
      if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod)) {
        INFO(path);
        CHECK(amin(bn->weight).item() == 1.0);
        CHECK(amax(abs(bn->bias)).item() == 0.0);
      }
    const Tensor& stem = m->stem().weight;  // (O, KH, KW, I): fan_out O * KH * KW
    if (!big)
      CHECK(std::sqrt(mean(square(stem)).item()) ==
            doctest::Approx(std::sqrt(2.0 / double(stem.size(0) * stem.size(1) * stem.size(2))))
                .epsilon(0.15));
    if (name.rfind("mobilenet", 0) == 0) {
      CHECK(std::sqrt(mean(square(m->head().weight)).item()) ==
            doctest::Approx(0.01).epsilon(0.05));
      CHECK(amax(abs(m->head().bias)).item() == 0.0);
    } else {
      CHECK(amax(abs(m->head().weight)).item() <= linear_bound);
      CHECK(amax(abs(m->head().weight)).item() > 0.5 * linear_bound);
    }

    // reset_classifier replaces the head's tensors and nothing else.
    nn::NamedTensors before = m->state_dict();
    m->reset_classifier(5);
    CHECK(m->num_classes() == 5);
    nn::NamedTensors after = m->state_dict();
    REQUIRE(before.size() == after.size());
    for (size_t i = 0; i < before.size(); ++i) {
      INFO(before[i].first);
      CHECK(before[i].first == after[i].first);
      const bool in_head = before[i].first.rfind(head, 0) == 0;
      CHECK(before[i].second.same_storage(after[i].second) == !in_head);
    }
    // A fresh nn.Linear: weight and bias in U(-1/sqrt(in), 1/sqrt(in)), also on MobileNets.
    CHECK(amax(abs(m->head().weight)).item() <= linear_bound);
    CHECK(amax(abs(m->head().weight)).item() > 0.5 * linear_bound);
    CHECK(amax(abs(m->head().bias)).item() <= linear_bound);
    CHECK(amax(abs(m->head().bias)).item() > 0.0);

    m->eval();
    NoGradGuard no_grad;
    const int64_t c = m->in_channels();
    CHECK(c == (name == "small_cnn" ? 1 : 3));
    CHECK(m->forward(zeros({3, 28, 28, c})).shape() == Shape{3, 5});
  }
  CHECK_THROWS_AS(create_model("small_cnn")->reset_classifier(0), Error);
}

TEST_CASE("models: registry lists every model and rejects unknown names and options") {
  std::vector<std::string> names = models::model_names();
  CHECK(names == std::vector<std::string>{"resnet18", "resnet34", "resnet50", "resnet101",
                                          "mobilenet_v2", "mobilenet_v3_small",
                                          "mobilenet_v3_large", "small_cnn"});
  CHECK_THROWS_WITH_AS(create_model("resnet19"), doctest::Contains("known: resnet18"), Error);
  models::ModelOptions o;
  o.width_mult = 0.5;
  CHECK_THROWS_AS(create_model("resnet18", o), Error);
  ClassifierPtr half = create_model("mobilenet_v2", o);
  CHECK(half->stem().spec.out_channels == 16);  // make_divisible(32 * 0.5)
  CHECK(half->num_features() == 1280);          // the last conv never narrows below 1280
  CHECK(models::make_divisible(32 * 0.75) == 24);
  CHECK(models::make_divisible(91.0) == 88);
  CHECK(models::make_divisible(10.0) == 16);  // 8 would lose more than 10%
  auto v3 = create_model("mobilenet_v3_small", with_classes(3, 1));
  CHECK(v3->in_channels() == 1);
  auto* bn = dynamic_cast<nn::BatchNorm2d*>(v3->find("features.1.block.0.1"));
  REQUIRE(bn != nullptr);
  CHECK(bn->eps == 0.001);
  CHECK(bn->momentum == 0.01);
  // bn_eps and bn_momentum reach every BatchNorm (timm's MobileNetV3 weights want 1e-5, 0.1).
  models::ModelOptions timm_bn = with_classes(3, 1);
  timm_bn.bn_eps = 1e-5;
  timm_bn.bn_momentum = 0.1;
  int bns = 0;
  ClassifierPtr timm_v3 = create_model("mobilenet_v3_small", timm_bn);
  for (auto& [path, m] : timm_v3->named_modules())
    if (auto* b = dynamic_cast<nn::BatchNorm2d*>(m)) {
      CHECK(b->eps == 1e-5);
      CHECK(b->momentum == 0.1);
      ++bns;
    }
  CHECK(bns == 34);
  timm_bn.bn_momentum = 1.5;
  CHECK_THROWS_WITH_AS(create_model("mobilenet_v3_small", timm_bn),
                       doctest::Contains("momentum in (0, 1]"), Error);
  // 224x224 works as well as 28x28; grayscale straight from the registry.
  v3->eval();
  NoGradGuard no_grad;
  CHECK(v3->forward(zeros({2, 224, 224, 1})).shape() == Shape{2, 3});
  CHECK(v3->forward(zeros({1, 28, 28, 1})).shape() == Shape{1, 3});
}

TEST_CASE("models: adapt_input_channels keeps what the stem computes") {
  ClassifierPtr rgb = create_model("resnet18", with_classes(4, 0, /*init=*/false));
  rgb->eval();
  // A grayscale image replicated to RGB through the RGB model equals the image through the
  // adapted one-channel model: the stem's filters were summed.
  Tensor gray = rand({2, 40, 40, 1});
  Tensor y_rgb;
  {
    NoGradGuard no_grad;
    y_rgb = rgb->forward(concat({gray, gray, gray}, 3));
  }
  models::adapt_input_channels(*rgb, 1);
  CHECK(rgb->in_channels() == 1);
  CHECK(rgb->stem_prefix() == "conv1.");
  CHECK(rgb->named_parameters().front().second.shape() == Shape{64, 7, 7, 1});
  CHECK(rgb->stem().weight.requires_grad());
  {
    NoGradGuard no_grad;
    golden::check_close("gray logits", rgb->forward(gray), y_rgb, 1e-5, 1e-5);
  }
  // Other channel counts repeat the filters and scale by 3 / c.
  ClassifierPtr v2 = create_model("mobilenet_v2");
  Tensor v2w = v2->stem().weight.clone();
  CHECK(nn::freeze_matching(*v2, {"features.0.0.*"}) == 1);
  models::adapt_input_channels(*v2, 5);
  Tensor w5 = v2->stem().weight;
  CHECK(w5.shape() == Shape{32, 3, 3, 5});
  CHECK_FALSE(w5.requires_grad());  // a frozen stem stays frozen
  golden::check_close("channel 4 = channel 1 * 3/5", narrow(w5, 3, 4, 1),
                      narrow(v2w, 3, 1, 1) * 0.6);
  // A 6-channel stem sees a constant image exactly as the 3-channel one did.
  ClassifierPtr r6 = create_model("mobilenet_v3_small", with_classes(4));
  r6->eval();
  NoGradGuard no_grad;
  Tensor y3 = r6->forward(full({1, 32, 32, 3}, 0.7));
  models::adapt_input_channels(*r6, 6);
  golden::check_close("constant image, 6 channels", r6->forward(full({1, 32, 32, 6}, 0.7)), y3,
                      1e-5, 1e-5);
  CHECK_THROWS_AS(models::adapt_input_channels(*r6, 0), Error);
}

TEST_CASE("models: small_cnn learns random data (the loss decreases)") {
  manual_seed(1);
  ClassifierPtr m = create_model("small_cnn", with_classes(4));
  m->train();
  Tensor x = randn({16, 28, 28, 1});
  Tensor y = randint(0, 4, {16});
  double first = 0, last = 0;
  for (int step = 0; step < 10; ++step) {
    for (Tensor& p : m->parameters()) p.set_grad(Tensor());
    Tensor loss = nn::cross_entropy_loss(m->forward(x), y);
    loss.backward();
    (step == 0 ? first : last) = loss.item();
    NoGradGuard no_grad;
    for (Tensor& p : m->parameters()) p.copy_(p - p.grad() * 0.2);
  }
  CHECK(last < first * 0.8);
}

TEST_CASE("models: summarize records output shapes, counts parameters and FLOPs, restores") {
  ClassifierPtr m = create_model("small_cnn", with_classes(10));
  CHECK(nn::freeze_matching(*m, {"features.0.*"}) == 3);  // conv weight, bn weight, bn bias
  m->train();
  const std::string tree_before = nn::module_tree(*m);
  models::Summary s = models::summarize(*m, {1, 28, 28, 1});
  CHECK(s.output == Shape{1, 10});
  CHECK(s.total_params == count_params(*m));
  CHECK(s.frozen_params == 32 * 9 + 32 + 32);
  CHECK(s.trainable_params == s.total_params - s.frozen_params);
  // 2 x multiply-adds: four convs (28x28x32 * 9*1, 14x14x64 * 9*32, 14x14x64 * 9*64,
  // 7x7x128 * 9*64) and fc.
  const int64_t macs = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 9 * 32 + 14 * 14 * 64 * 9 * 64 +
                       7 * 7 * 128 * 9 * 64 + 128 * 10;
  CHECK(s.flops == 2 * macs);
  std::map<std::string, Shape> shapes;
  for (const auto& st : s.modules) shapes[st.name] = st.output;
  CHECK(shapes["features.0.0"] == Shape{1, 28, 28, 32});
  CHECK(shapes["features.1"] == Shape{1, 14, 14, 32});
  CHECK(shapes["features.3"] == Shape{1, 14, 14, 64});
  CHECK(shapes["features.4"] == Shape{1, 7, 7, 64});
  CHECK(shapes["features.5"] == Shape{1, 7, 7, 128});
  CHECK(shapes["avgpool"] == Shape{1, 1, 1, 128});
  CHECK(shapes["fc"] == Shape{1, 10});
  CHECK(s.modules[0].flops == s.flops);
  // The model is as it was: same children, still in training mode, BN statistics unchanged.
  CHECK(nn::module_tree(*m) == tree_before);
  CHECK(m->is_training());
  CHECK(m->find("features.0.1")->is_training());
  auto* bn = dynamic_cast<nn::BatchNorm2d*>(m->find("features.2.1"));
  REQUIRE(bn != nullptr);
  CHECK(bn->num_batches_tracked.item() == 0);
  const std::string text = models::format_summary(s);
  CHECK(contains(text, "features.0.0"));
  CHECK(contains(text, "(1, 7, 7, 128)"));
  CHECK(contains(text, models::with_commas(s.flops)));
  CHECK(models::with_commas(11689512) == "11,689,512");
  CHECK(models::with_commas(999) == "999");
}

TEST_CASE("models: a ResNet's repeated ReLU and FLOPs at 224x224") {
  ClassifierPtr m = create_model("resnet18", with_classes(1000, 0, /*init=*/false));
  models::Summary s = models::summarize(*m, {1, 224, 224, 3});
  CHECK(s.output == Shape{1, 1000});
  // torchvision reports resnet18 at 1.814 G multiply-adds ("GFLOPS" in its docs).
  CHECK(double(s.flops) / 2e9 == doctest::Approx(1.814).epsilon(0.002));
  for (const auto& st : s.modules)
    if (st.name == "layer1.0.relu") CHECK(st.calls == 2);
}

TEST_CASE("models: whet models, inspect and forward") {
  Run list = run_cli("models --num-classes 10");
  CHECK(list.status == 0);
  CHECK(contains(list.out, "resnet50"));
  CHECK(contains(list.out, "small_cnn"));
  CHECK(contains(list.out, "11,181,642"));  // resnet18 with a 10-class head

  Run ins = run_cli(
      "inspect --model small_cnn --num-classes 10 --freeze 'features.0.*' "
      "--input-size 28,28,1");
  INFO(ins.out);
  CHECK(ins.status == 0);
  CHECK(contains(ins.out, "(1, 14, 14, 32)"));
  CHECK(contains(ins.out, "352 frozen"));
  CHECK(contains(ins.out, "forward FLOPs"));
  Run rgb = run_cli("inspect --model small_cnn --input-size 32,32,3");
  CHECK(rgb.status == 0);
  CHECK(contains(rgb.out, "Conv2d(3, 32"));
  Run bad = run_cli("inspect --model resnet19");
  CHECK(bad.status != 0);
  CHECK(contains(bad.out, "unknown model"));
  Run bad_size = run_cli("inspect --model small_cnn --input-size 28x28");
  CHECK(bad_size.status != 0);
  Run nomatch = run_cli("inspect --model small_cnn --freeze 'nothing.*'");
  CHECK(contains(nomatch.out, "matched no parameter"));

  // A 10-class checkpoint into a 3-class model: all but the head loads, the head is reported.
  const std::filesystem::path w =
      std::filesystem::temp_directory_path() /
      ("whet_test_inspect_" + std::to_string(getpid()) + ".safetensors");
  io::save_weights(*create_model("small_cnn", with_classes(10)), w.string());
  Run loaded = run_cli("inspect --model small_cnn --num-classes 3 --weights " + w.string());
  std::filesystem::remove(w);
  CHECK(loaded.status == 0);
  CHECK(contains(loaded.out, "loaded 24 of 26 entries"));
  CHECK(contains(loaded.out, "shape mismatches (2)"));
  CHECK(contains(loaded.out, "fc.weight"));
  CHECK(contains(loaded.out, "(1, 3)"));
}

TEST_CASE("models: whet forward matches the in-process forward - refuses what it cannot run") {
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / ("whet_test_models_" + std::to_string(getpid()));
  std::filesystem::create_directories(tmp);
  const std::string dir = tmp.string();
  ClassifierPtr m = create_model("small_cnn", with_classes(3));
  nn::NamedTensors sd;  // PyTorch layout, as a torchvision checkpoint
  for (auto& [name, t] : m->state_dict())
    sd.emplace_back(name, t.dim() == 4 ? permute(t, {0, 3, 1, 2}) : t);
  io::save_safetensors(dir + "/w.safetensors", sd);
  Tensor x = randn({2, 20, 24, 1});
  io::save_safetensors(dir + "/in.safetensors", {{"input", x}});
  Run r = run_cli("forward --model small_cnn --num-classes 3 --weights " + dir +
                  "/w.safetensors --input " + dir + "/in.safetensors --output " + dir +
                  "/out.safetensors");
  INFO(r.out);
  REQUIRE(r.status == 0);
  io::SafetensorsFile out = io::load_safetensors(dir + "/out.safetensors");
  REQUIRE(out.tensors.size() == 1);
  CHECK(out.tensors[0].first == "logits");
  m->eval();
  NoGradGuard no_grad;
  golden::check_close("logits", out.tensors[0].second, m->forward(x));

  Run wrong_k = run_cli("forward --model small_cnn --num-classes 4 --weights " + dir +
                        "/w.safetensors --input " + dir + "/in.safetensors --output " + dir +
                        "/o2.safetensors");
  CHECK(wrong_k.status != 0);
  CHECK(contains(wrong_k.out, "fc.weight"));
  // The whole model in float16 (on the CPU through the half adapter): close to float32.
  Run half = run_cli("forward --model small_cnn --num-classes 3 --precision fp16 --weights " + dir +
                     "/w.safetensors --input " + dir + "/in.safetensors --output " + dir +
                     "/o3.safetensors");
  INFO(half.out);
  REQUIRE(half.status == 0);
  Tensor half_logits = io::load_safetensors(dir + "/o3.safetensors").tensors[0].second;
  CHECK(half_logits.dtype() == DType::f32);
  // Every layer's output rounds to float16 (2^-11 relative) and the errors compound through
  // the network's five layers, so assert_close's single-op fp16 rtol of 1e-3 is loosened 10x.
  golden::check_close("fp16 logits", half_logits, m->forward(x), 1e-2, 1e-3);
  if (cuda_device_count() == 0) {
    Run gpu = run_cli("forward --model small_cnn --num-classes 3 --device cuda --weights " + dir +
                      "/w.safetensors --input " + dir + "/in.safetensors --output " + dir +
                      "/o4.safetensors");
    CHECK(gpu.status != 0);
    CHECK(contains(gpu.out, "--device cuda"));
  }
  std::filesystem::remove_all(tmp);
}
