// nn::Module, layers, freezing and losses.
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "nn/freeze.h"
#include "nn/layers.h"
#include "nn/loss.h"

using namespace whet;
using namespace whet::nn;

namespace {
// conv -> bn -> relu -> pool -> flatten -> linear, with a nested block, as a tiny ResNet stem.
std::shared_ptr<Sequential> tiny_net() {
  auto block = std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(4, 4, 3, Conv2dOptions{1, 1}, false),
      std::make_shared<BatchNorm2d>(4)});
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(3, 4, 3, Conv2dOptions{1, 1}, false),
      std::make_shared<BatchNorm2d>(4), std::make_shared<ReLU>(), block,
      std::make_shared<AdaptiveAvgPool2d>(1), std::make_shared<Flatten>(),
      std::make_shared<Linear>(4, 3)});
}

// One plain SGD step over the trainable parameters (the optimizers have their own tests).
void sgd_step(Module& m, double lr) {
  NoGradGuard no_grad;
  for (Tensor& p : m.trainable_parameters()) {
    if (p.grad().defined()) p.copy_(p - p.grad() * lr);
    p.set_grad(Tensor());
  }
}
}  // namespace

TEST_CASE("nn: parameters and buffers have PyTorch's dotted names, in order") {
  auto net = tiny_net();
  std::vector<std::string> names;
  for (auto& [n, t] : net->state_dict()) names.push_back(n);
  std::vector<std::string> expected = {
      "0.weight",          "1.weight",          "1.bias",      "3.0.weight",
      "3.1.weight",        "3.1.bias",          "6.weight",    "6.bias",
      "1.running_mean",    "1.running_var",     "1.num_batches_tracked",
      "3.1.running_mean",  "3.1.running_var",   "3.1.num_batches_tracked"};
  CHECK(names == expected);
  CHECK(net->find("3.0") != nullptr);
  CHECK(net->find("3.0")->type_name() == "Conv2d");
  CHECK(net->find("9") == nullptr);
  CHECK(net->parameters().size() == 8);
  CHECK(module_tree(*net).find("Conv2d(3, 4, kernel_size=(3, 3)") != std::string::npos);
}

TEST_CASE("nn: train and eval propagate to every descendant") {
  auto net = tiny_net();
  net->eval();
  for (auto& [n, m] : net->named_modules()) CHECK_FALSE(m->is_training());
  net->train();
  for (auto& [n, m] : net->named_modules()) CHECK(m->is_training());
}

TEST_CASE("nn: state_dict round trip and the mismatch report") {
  auto a = tiny_net(), b = tiny_net();
  LoadResult ok = b->load_state_dict(a->state_dict());
  CHECK(ok.ok());
  Tensor x = randn({2, 5, 5, 3});
  a->eval();
  b->eval();
  CHECK(a->forward(x).to_vector<float>() == b->forward(x).to_vector<float>());

  NamedTensors sd = a->state_dict();
  sd.erase(sd.begin());                               // 0.weight missing
  sd.emplace_back("extra.weight", zeros({1}));        // unexpected
  for (auto& [n, t] : sd)
    if (n == "6.weight") t = zeros({5, 4});           // wrong shape
  Tensor before = b->state_dict()[1].second.clone();  // 1.weight
  CHECK_THROWS_WITH_AS(b->load_state_dict(sd), doctest::Contains("missing keys (1): 0.weight"),
                       Error);
  // A failed strict load changes nothing.
  CHECK(b->state_dict()[1].second.to_vector<float>() == before.to_vector<float>());
  LoadResult r = b->load_state_dict(sd, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"0.weight"});
  CHECK(r.unexpected == std::vector<std::string>{"extra.weight"});
  REQUIRE(r.shape_mismatch.size() == 1);
  CHECK(r.shape_mismatch[0].find("6.weight: checkpoint (5, 4), model (3, 4)") != std::string::npos);
}

TEST_CASE("nn: to(dtype) converts floating tensors in place and keeps handles") {
  auto lin = std::make_shared<Linear>(3, 2);
  Tensor w = lin->weight;
  auto bn = std::make_shared<BatchNorm2d>(2);
  lin->to(DType::f64);
  bn->to(DType::f64);
  CHECK(w.dtype() == DType::f64);  // the same tensor, converted
  CHECK(lin->named_parameters()[0].second.dtype() == DType::f64);
  CHECK(bn->num_batches_tracked.dtype() == DType::i64);
  CHECK(w.requires_grad());
}

TEST_CASE("nn: default initialisation follows PyTorch's bounds") {
  Linear lin(100, 50);
  double bound = 1.0 / std::sqrt(100.0);
  CHECK(amax(abs(lin.weight)).item() <= bound);
  CHECK(amax(abs(lin.weight)).item() > 0.9 * bound);
  CHECK(amax(abs(lin.bias)).item() <= bound);
  Conv2d conv(8, 16, 3);
  CHECK(conv.weight.shape() == Shape{16, 3, 3, 8});
  CHECK(amax(abs(conv.weight)).item() <= 1.0 / std::sqrt(72.0));
  BatchNorm2d bn(4);
  CHECK(bn.weight.to_vector<float>() == std::vector<float>(4, 1.0f));
  CHECK(bn.running_var.to_vector<float>() == std::vector<float>(4, 1.0f));
}

TEST_CASE("nn: freezing by glob, by module type and by subtree") {
  auto net = tiny_net();
  CHECK(freeze_matching(*net, {"3.*"}) == 3);
  CHECK_FALSE(net->find("3.0")->named_parameters()[0].second.requires_grad());
  CHECK(unfreeze(*net) == 3);
  CHECK(freeze_matching(*net, {"*.bias"}) == 3);  // 1.bias, 3.1.bias, 6.bias
  unfreeze(*net);
  // By module type: every Conv2d's parameters, nested ones included; nothing else.
  CHECK(freeze_type(*net, "Conv2d") == 2);
  for (auto& [n, p] : net->named_parameters())
    CHECK(p.requires_grad() == (n != "0.weight" && n != "3.0.weight"));
  CHECK(freeze_matching(*net, {"nothing.matches"}) == 0);
  unfreeze(*net);
  CHECK(freeze(*net) == 8);
  CHECK(net->trainable_parameters().empty());
  CHECK(unfreeze_matching(*net, {"6.*"}) == 2);
  CHECK(net->trainable_parameters().size() == 2);
}

TEST_CASE("nn: frozen tensors stay bit-identical through training steps") {
  manual_seed(3);
  auto net = tiny_net();
  freeze_matching(*net, {"0.*", "3.*"});
  freeze_batchnorm(*net);
  net->train();
  NamedTensors before;
  for (auto& [n, t] : net->state_dict()) before.emplace_back(n, t.clone());
  Tensor x = randn({4, 6, 6, 3});
  Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 1}, {4});
  for (int step = 0; step < 3; ++step) {
    Tensor loss = cross_entropy(net->forward(x), y);
    loss.backward();
    sgd_step(*net, 0.1);
  }
  NamedTensors after = net->state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    INFO(after[i].first);
    bool trained = after[i].first.rfind("6.", 0) == 0;
    bool same = after[i].second.to_vector<double>() == before[i].second.to_vector<double>();
    CHECK(same != trained);
  }
}

TEST_CASE("nn: frozen BatchNorm uses running statistics even in training mode") {
  BatchNorm2d bn(2);
  {
    NoGradGuard g;
    bn.running_mean.copy_(Tensor::from_vector<float>({1, -1}, {2}));
    bn.running_var.copy_(Tensor::from_vector<float>({4, 9}, {2}));
  }
  Tensor x = Tensor::from_vector<float>({3, 2, 5, -4}, {2, 1, 1, 2});
  bn.set_frozen(true);
  bn.train();
  Tensor y = bn.forward(x);
  std::vector<float> v = y.to_vector<float>();
  CHECK(v[0] == doctest::Approx((3 - 1) / std::sqrt(4 + 1e-5)));
  CHECK(v[3] == doctest::Approx((-4 + 1) / std::sqrt(9 + 1e-5)));
  CHECK(bn.num_batches_tracked.item() == 0);
  CHECK(bn.running_mean.to_vector<float>() == std::vector<float>{1, -1});
  CHECK_FALSE(bn.weight.requires_grad());
  bn.set_frozen(false);
  bn.forward(x);
  CHECK(bn.num_batches_tracked.item() == 1);
  CHECK(bn.running_mean.to_vector<float>() != std::vector<float>{1, -1});
}

TEST_CASE("nn: dropout is the identity in eval mode") {
  Dropout d(0.5);
  Tensor x = ones({1000});
  d.eval();
  CHECK(d.forward(x).to_vector<float>() == x.to_vector<float>());
  d.train();
  double kept = mean(cast(ne(d.forward(x), zeros({1000})), DType::f32)).item();
  CHECK(kept == doctest::Approx(0.5).epsilon(0.1));
}

TEST_CASE("nn: losses match hand-computed values") {
  Tensor x = Tensor::from_vector<double>({0.5, -1.0, 2.0}, {3});
  Tensor y = Tensor::from_vector<double>({0.0, 1.0, 2.5}, {3});
  CHECK(mse_loss(x, y).item() == doctest::Approx((0.25 + 4.0 + 0.25) / 3));
  CHECK(l1_loss(x, y, Reduction::sum).item() == doctest::Approx(0.5 + 2.0 + 0.5));
  // smooth L1 (beta 1): 0.5*0.25, 2-0.5, 0.5*0.25
  CHECK(smooth_l1_loss(x, y).item() == doctest::Approx((0.125 + 1.5 + 0.125) / 3));
  Tensor t = Tensor::from_vector<double>({1.0, 0.0, 1.0}, {3});
  double expected = 0;
  for (auto [xi, ti] : {std::pair{0.5, 1.0}, {-1.0, 0.0}, {2.0, 1.0}})
    expected += -(ti * std::log(1 / (1 + std::exp(-xi))) + (1 - ti) * std::log(1 - 1 / (1 + std::exp(-xi))));
  CHECK(bce_with_logits_loss(x, t).item() == doctest::Approx(expected / 3));
  CHECK(l1_penalty({x, y}).item() == doctest::Approx(3.5 + 3.5));
  CHECK(l2_penalty({x}).item() == doctest::Approx(0.25 + 1 + 4));
  CHECK_THROWS_WITH_AS(mse_loss(x, ones({2}, DType::f64)), doctest::Contains("mse_loss: input shape (3,)"), Error);
}

TEST_CASE("nn: BCE-with-logits gradient is sigmoid(x) - y, also at x = 0") {
  Tensor x = Tensor::from_vector<double>({0.0, 1.5}, {2}).set_requires_grad();
  Tensor y = Tensor::from_vector<double>({1.0, 0.0}, {2});
  bce_with_logits_loss(x, y, Reduction::sum).backward();
  std::vector<double> g = x.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(0.5 - 1.0));
  CHECK(g[1] == doctest::Approx(1 / (1 + std::exp(-1.5))));
}

TEST_CASE("nn: a custom loss built from tensor ops gets its gradient from autograd") {
  // Huber-like "log cosh" loss: mean(log(cosh(x - y))), d/dx = tanh(x - y) / n.
  Tensor x = Tensor::from_vector<double>({0.3, -1.2, 2.0}, {3}).set_requires_grad();
  Tensor y = Tensor::from_vector<double>({0.0, 0.5, 1.0}, {3});
  Tensor d = x - y;
  Tensor loss = mean(log((exp(d) + exp(-d)) * 0.5));
  loss.backward();
  std::vector<double> g = x.grad().to_vector<double>();
  std::vector<double> dv = {0.3, -1.7, 1.0};
  for (size_t i = 0; i < 3; ++i) CHECK(g[i] == doctest::Approx(std::tanh(dv[i]) / 3));
}
