// Layers and losses against PyTorch (fixtures from tools/golden/make_fixtures.py), at
// torch.testing.assert_close's float32 tolerances.
#include <doctest/doctest.h>

#include "core/autograd.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "tests/golden_util.h"

using namespace whet;
using namespace whet::nn;
using golden::check_close;

namespace {
// Runs module on the case's input, backpropagates grad_output, compares output, grad_input
// and the gradient of each named parameter (loaded from the fixture first).
void check_layer(const golden::Fixture& fx, const std::string& name, Module& m,
                 const std::vector<std::string>& params = {}) {
  INFO("case ", name);
  for (const std::string& p : params) {
    bool found = false;
    for (auto& [pn, t] : m.named_parameters(false)) {
      if (pn != p) continue;
      NoGradGuard g;
      t.copy_(fx[name + "." + p]);
      found = true;
    }
    REQUIRE(found);
  }
  Tensor x = fx.copy(name + ".input").set_requires_grad();
  Tensor y = m.forward(x);
  check_close(name + " output", y, fx[name + ".output"]);
  y.backward(fx[name + ".grad_output"]);
  check_close(name + " grad_input", x.grad(), fx[name + ".grad_input"]);
  for (const std::string& p : params)
    for (auto& [pn, t] : m.named_parameters(false))
      if (pn == p) check_close(name + " grad_" + p, t.grad(), fx[name + ".grad_" + p]);
}
}  // namespace

TEST_CASE("parity: Linear") {
  golden::Fixture fx("layers.safetensors");
  Linear lin(7, 5);
  check_layer(fx, "linear", lin, {"weight", "bias"});
}

TEST_CASE("parity: Conv2d (stride, padding, groups, depthwise, dilation, 1x1, 7x7 stem)") {
  golden::Fixture fx("layers.safetensors");
  struct C {
    const char* name;
    Conv2dSpec spec;
  };
  const C cases[] = {
      {"conv_basic", {3, 4, 3, {1, 1, 1, 1}, true}},
      {"conv_stride2", {4, 6, 3, {2, 1, 1, 1}, false}},
      {"conv_groups", {4, 6, 3, {1, 1, 1, 2}, true}},
      {"conv_depthwise", {4, 8, 3, {2, 1, 1, 4}, true}},
      {"conv_dilated", {3, 2, {3, 2}, {1, {2, 1}, 2, 1}, true}},
      {"conv_1x1", {5, 3, 1, {}, true}},
      {"conv_7x7_stem", {3, 4, 7, {2, 3, 1, 1}, false}},
  };
  for (const C& c : cases) {
    Conv2d conv(c.spec);
    std::vector<std::string> params{"weight"};
    if (c.spec.bias) params.push_back("bias");
    check_layer(fx, c.name, conv, params);
  }
}

TEST_CASE("parity: BatchNorm2d training (with running-stat update) and eval") {
  golden::Fixture fx("layers.safetensors");
  BatchNorm2d bn(5);
  {
    NoGradGuard g;
    bn.running_mean.copy_(fx["bn_train.running_mean_before"]);
    bn.running_var.copy_(fx["bn_train.running_var_before"]);
  }
  bn.train();
  check_layer(fx, "bn_train", bn, {"weight", "bias"});
  check_close("running_mean", bn.running_mean, fx["bn_train.running_mean_after"]);
  check_close("running_var", bn.running_var, fx["bn_train.running_var_after"]);
  BatchNorm2d bn_eval(5);
  {
    NoGradGuard g;
    bn_eval.running_mean.copy_(fx["bn_eval.running_mean"]);
    bn_eval.running_var.copy_(fx["bn_eval.running_var"]);
  }
  bn_eval.eval();
  check_layer(fx, "bn_eval", bn_eval, {"weight", "bias"});
}

TEST_CASE("parity: activations") {
  golden::Fixture fx("layers.safetensors");
  std::vector<std::pair<std::string, ModulePtr>> acts = {
      {"relu", std::make_shared<ReLU>()},           {"relu6", std::make_shared<ReLU6>()},
      {"hardswish", std::make_shared<Hardswish>()}, {"hardsigmoid", std::make_shared<Hardsigmoid>()},
      {"silu", std::make_shared<SiLU>()},           {"sigmoid", std::make_shared<Sigmoid>()},
      {"tanh", std::make_shared<Tanh>()},           {"gelu", std::make_shared<GELU>()}};
  for (auto& [name, m] : acts) check_layer(fx, name, *m);
}

TEST_CASE("parity: pooling") {
  golden::Fixture fx("layers.safetensors");
  MaxPool2d mp1({3, 2, 1});
  check_layer(fx, "maxpool_3s2p1", mp1);
  Pool2dOptions ceil2{2};
  ceil2.ceil_mode = true;
  MaxPool2d mp2(ceil2);
  check_layer(fx, "maxpool_2_ceil", mp2);
  AvgPool2d ap1({3, 2, 1});
  check_layer(fx, "avgpool_3s2p1", ap1);
  Pool2dOptions nopad{3, 2, 1};
  nopad.count_include_pad = false;
  AvgPool2d ap2(nopad);
  check_layer(fx, "avgpool_3s2p1_nopad", ap2);
  AvgPool2d ap3(ceil2);
  check_layer(fx, "avgpool_2_ceil", ap3);
  AdaptiveAvgPool2d ad1(1), ad2({3, 2});
  check_layer(fx, "adaptive_1", ad1);
  check_layer(fx, "adaptive_3x2", ad2);
}

TEST_CASE("parity: softmax and log_softmax over each dim") {
  golden::Fixture fx("layers.safetensors");
  for (int dim = 0; dim < 3; ++dim) {
    for (bool log : {false, true}) {
      std::string name = std::string(log ? "log_softmax" : "softmax") + "_dim" + std::to_string(dim);
      Lambda m([dim, log](const Tensor& x) { return log ? log_softmax(x, dim) : softmax(x, dim); });
      check_layer(fx, name, m);
    }
  }
}

TEST_CASE("parity: cross-entropy variants") {
  golden::Fixture fx("losses.safetensors");
  Tensor target = fx["ce.target"];
  Tensor weight = fx["ce.class_weight"];
  struct C {
    const char* name;
    CrossEntropyOptions o;
    bool weighted;
  };
  CrossEntropyOptions sum_o, none_o, ignore_o, smooth_o, all_o;
  sum_o.reduction = Reduction::sum;
  none_o.reduction = Reduction::none;
  ignore_o.ignore_index = 3;
  smooth_o.label_smoothing = 0.1;
  all_o.label_smoothing = 0.2;
  all_o.ignore_index = 1;
  const C cases[] = {{"ce_mean", {}, false},       {"ce_sum", sum_o, false},
                     {"ce_none", none_o, false},   {"ce_weighted", {}, true},
                     {"ce_ignore", ignore_o, false}, {"ce_smooth", smooth_o, false},
                     {"ce_weighted_smooth_ignore", all_o, true}};
  for (const C& c : cases) {
    INFO("case ", c.name);
    Tensor x = fx.copy("ce.logits").set_requires_grad();
    Tensor loss = cross_entropy_loss(x, target, c.o, c.weighted ? weight : Tensor());
    check_close(std::string(c.name) + " loss", loss, fx[std::string(c.name) + ".loss"]);
    loss.backward(fx[std::string(c.name) + ".grad_loss"]);
    check_close(std::string(c.name) + " grad", x.grad(), fx[std::string(c.name) + ".grad_logits"]);
  }
}

TEST_CASE("parity: regression and binary losses") {
  golden::Fixture fx("losses.safetensors");
  Tensor b = fx["reg.target"], probs = fx["reg.probs"];
  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> cases = {
      {"mse", [&](const Tensor& x) { return mse_loss(x, b); }},
      {"l1", [&](const Tensor& x) { return l1_loss(x, b); }},
      {"smooth_l1", [&](const Tensor& x) { return smooth_l1_loss(x, b); }},
      {"smooth_l1_beta05", [&](const Tensor& x) { return smooth_l1_loss(x, b, Reduction::mean, 0.5); }},
      {"mse_sum", [&](const Tensor& x) { return mse_loss(x, b, Reduction::sum); }},
      {"bce_logits", [&](const Tensor& x) { return bce_with_logits_loss(x, probs); }},
  };
  for (auto& [name, f] : cases) {
    INFO("case ", name);
    Tensor x = fx.copy("reg.input").set_requires_grad();
    Tensor loss = f(x);
    check_close(name + " loss", loss, fx[name + ".loss"]);
    loss.backward();
    check_close(name + " grad", x.grad(), fx[name + ".grad_input"]);
  }
}
