// Whole models against torchvision (fixtures from tools/golden/make_model_fixtures.py), with
// every weight filled from a formula both sides compute: float32 eval-mode logits at
// torch.testing's float32 tolerances, and one training step (train-mode logits, loss,
// parameter gradients, BatchNorm running statistics) in float64 at its float64 tolerances.
// Why float64 there: the script's docstring (ReLU gradients are discontinuous, so float32
// rounding flips a few of them and moves single gradient entries by percents).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "core/autograd.h"
#include "models/registry.h"
#include "nn/loss.h"
#include "tests/golden_util.h"
#include "tests/model_formula.h"

using namespace whet;
using golden::check_close;
using golden::fill_formula;
using golden::formula;
using golden::pytorch_shape;

namespace {

Tensor param(const nn::Module& m, const std::string& name) {
  for (auto& [n, t] : m.state_dict())
    if (n == name) return t;
  FAIL("model has no entry ", name);
  return Tensor();
}

// Runs one model's case.
void check_model(const std::string& name, Shape input_nchw, const std::vector<std::string>& grads,
                 const std::vector<std::string>& buffers) {
  INFO("model ", name);
  golden::Fixture fx("models_" + name + ".safetensors");
  models::ModelOptions o;
  o.num_classes = 10;
  o.init_weights = false;  // every value comes from the formula
  models::ClassifierPtr model = models::create_model(name, o);
  fill_formula(*model);

  Tensor x_nchw = formula("input", input_nchw);
  check_close("probe.input", x_nchw.flatten().slice(0, 16), fx["probe.input"], 0, 0);
  const std::string first = model->named_parameters().front().first;
  for (const std::string& key : {first, grads[1]}) {
    Tensor v = formula(key, pytorch_shape(param(*model, key)));
    check_close("probe." + key, v.flatten().slice(0, 16), fx["probe." + key], 0, 0);
  }
  Tensor x = permute(x_nchw, {0, 2, 3, 1});  // (N, H, W, C)

  model->eval();
  {
    NoGradGuard no_grad;
    check_close("logits_eval", model->forward(x), fx["logits_eval"]);
  }

  model->to(DType::f64);
  model->train();
  for (auto& [path, m] : model->named_modules())
    if (auto* d = dynamic_cast<nn::Dropout*>(m)) d->p = 0.0;  // as the fixture: masks differ
  using golden::kF64Atol;
  using golden::kF64Rtol;
  Tensor logits = model->forward(x.to(DType::f64));
  check_close("logits_train", logits, fx["logits_train"], kF64Rtol, kF64Atol);
  Tensor loss = nn::cross_entropy_loss(logits, fx["target"]);
  check_close("loss", loss, fx["loss"], kF64Rtol, kF64Atol);
  loss.backward();
  for (const std::string& g : grads)
    check_close("grad." + g, param(*model, g).grad(), fx["grad." + g], kF64Rtol, kF64Atol);
  for (const std::string& b : buffers)
    check_close("after." + b, param(*model, b), fx["after." + b], kF64Rtol, kF64Atol);
}

}  // namespace

TEST_CASE("parity model: small_cnn") {
  check_model("small_cnn", {4, 1, 28, 28},
              {"features.0.0.weight", "features.2.1.weight", "fc.weight", "fc.bias"},
              {"features.5.1.running_mean"});
}

TEST_CASE("parity model: resnet18") {
  check_model("resnet18", {2, 3, 64, 64},
              {"conv1.weight", "layer2.1.bn2.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"},
              {"bn1.running_mean", "layer3.0.downsample.1.running_var"});
}

TEST_CASE("parity model: resnet50") {
  check_model("resnet50", {2, 3, 64, 64},
              {"conv1.weight", "layer3.2.bn2.weight", "layer1.0.downsample.1.bias", "fc.bias"},
              {"layer4.2.bn3.running_var"});
}

TEST_CASE("parity model: mobilenet_v2") {
  check_model("mobilenet_v2", {2, 3, 64, 64},
              {"features.0.0.weight", "features.9.conv.1.0.weight", "features.9.conv.1.1.weight",
               "classifier.1.bias"},
              {"features.9.conv.1.1.running_mean"});
}

TEST_CASE("parity model: mobilenet_v3_small") {
  check_model("mobilenet_v3_small", {2, 3, 64, 64},
              {"features.0.0.weight", "features.4.block.2.fc1.bias", "features.4.block.2.fc2.bias",
               "features.6.block.1.1.weight", "classifier.0.bias", "classifier.3.bias"},
              {"features.6.block.1.1.running_var"});
}
