// Stochastic depth (models/residual.h) and the classifier drop rate (ModelOptions::dropout):
// per-sample branches dropped in training only, rates spread over the blocks, refusals.
#include <doctest/doctest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/registry.h"
#include "models/residual.h"
#include "models/resnet.h"
#include "tests/test_train_util.h"

using namespace whet;

namespace {
// A block that shows its drop_branch.
struct Probe : models::ResidualBlock {
  Probe() : ResidualBlock("Probe") {}
  Tensor forward(const Tensor& x) override { return drop_branch(x); }
};
}  // namespace

TEST_CASE("drop path: each sample's branch is kept and rescaled, or zeroed, in training only") {
  Probe block;
  block.drop_path = 0.25;
  const Tensor x = ones({2000, 2, 3, 4});
  const std::vector<float> y = block.forward(x).to_vector<float>();
  int64_t dropped = 0;
  for (int64_t n = 0; n < 2000; ++n) {
    const float first = y[size_t(n * 24)];
    CHECK((first == 0.0f || first == doctest::Approx(1 / 0.75)));
    for (int64_t k = 1; k < 24; ++k) CHECK(y[size_t(n * 24 + k)] == first);  // the whole sample
    dropped += first == 0.0f;
  }
  CHECK(double(dropped) / 2000 == doctest::Approx(0.25).epsilon(0.15));
  block.eval();
  CHECK(block.forward(x).same_storage(x));
}

TEST_CASE("drop path: rates rise linearly over the blocks, eval is unchanged, training is not") {
  models::ModelOptions o;
  o.num_classes = 5;
  auto plain = models::create_model("resnet18", o);
  o.drop_path = 0.35;
  o.dropout = 0.5;
  auto dropped = models::create_model("resnet18", o);
  std::vector<double> rates;
  for (auto& [path, m] : dropped->named_modules())
    if (auto* b = dynamic_cast<models::ResidualBlock*>(m)) rates.push_back(b->drop_path);
  REQUIRE(rates.size() == 8);
  for (size_t i = 0; i < 8; ++i) CHECK(rates[i] == doctest::Approx(0.35 * double(i) / 7));
  CHECK(models::set_drop_path(*dropped, 0.35) == 8);

  // Same weights; state dicts have the same names (dropout holds none).
  dropped->load_state_dict(plain->state_dict());
  Generator g(4);
  const Tensor x = randn({4, 32, 32, 3}, DType::f32, Device::cpu(), g);
  NoGradGuard no_grad;
  plain->eval(), dropped->eval();
  CHECK(plain->forward(x).to_vector<float>() == dropped->forward(x).to_vector<float>());
  plain->train(), dropped->train();
  CHECK(plain->forward(x).to_vector<float>() != dropped->forward(x).to_vector<float>());

  models::ModelOptions bad;
  bad.num_classes = 5;
  bad.drop_path = 0.1;
  CHECK(train_test::contains(train_test::error_of([&] { models::create_model("small_cnn", bad); }),
                             "small_cnn has no residual blocks"));
  bad.drop_path = 0;
  bad.dropout = 0.3;
  CHECK(train_test::contains(train_test::error_of([&] { models::create_model("small_cnn", bad); }),
                             "small_cnn has no classifier dropout"));
  bad.drop_path = 1.0;
  CHECK(train_test::contains(train_test::error_of([&] { models::create_model("resnet18", bad); }),
                             "in [0, 1)"));
}
