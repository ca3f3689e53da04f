// The autograd engine: accumulation, no-grad, recording rules, freeing of saved tensors.
#include <doctest/doctest.h>

#include "core/autograd.h"
#include "core/ops.h"

using namespace whet;

TEST_CASE("autograd: gradients of a small expression") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  Tensor y = sum(x * x * 3.0 + x);  // dy/dx = 6x + 1
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{7, 13, 19});
}

TEST_CASE("autograd: leaf gradients accumulate across backward calls") {
  Tensor x = ones({2}, DType::f64).set_requires_grad();
  sum(x * 2.0).backward();
  sum(x * 3.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 5});
  x.set_grad(Tensor());
  sum(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1});
}

TEST_CASE("autograd: a tensor used twice gets both contributions - grads do not alias") {
  Tensor a = ones({3}).set_requires_grad();
  Tensor b = ones({3}).set_requires_grad();
  Tensor y = sum(a + b);  // add hands the same gradient tensor to both inputs
  y.backward();
  CHECK_FALSE(a.grad().same_storage(b.grad()));
  Tensor c = ones({2}, DType::f64).set_requires_grad();
  sum(c * c + c).backward();  // c feeds three edges
  CHECK(c.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("autograd: backward with an explicit output gradient") {
  Tensor x = Tensor::from_vector<float>({1, 2}, {2}).set_requires_grad();
  Tensor y = x * 4.0;
  y.backward(Tensor::from_vector<float>({1, 0.5f}, {2}));
  CHECK(x.grad().to_vector<float>() == std::vector<float>{4, 2});
}

TEST_CASE("autograd: ops whose inputs need no grad record nothing") {
  Tensor w = ones({3});  // frozen
  Tensor x = ones({3});
  Tensor y = w * x;
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
  Tensor p = ones({3}).set_requires_grad();
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor z = p * 2.0;
    CHECK(z.grad_fn() == nullptr);
  }
  CHECK(grad_enabled());
  CHECK((p * 2.0).grad_fn() != nullptr);
}

TEST_CASE("autograd: only the inputs that need a gradient receive one") {
  Tensor frozen = ones({2, 2});
  Tensor trained = ones({2, 2}).set_requires_grad();
  sum(matmul(frozen, trained)).backward();
  CHECK(trained.grad().defined());
  CHECK_FALSE(frozen.grad().defined());
}

TEST_CASE("autograd: saved tensors are freed after backward - a second backward fails") {
  Tensor x = ones({4}).set_requires_grad();
  Tensor big = ones({4});
  Tensor y = x * big;  // the mul node saves big
  std::weak_ptr<TensorImpl> saved_storage_owner = big.impl();
  long before = big.impl()->storage.data.use_count();
  Tensor loss = sum(y);
  loss.backward();
  CHECK(big.impl()->storage.data.use_count() < before);  // the node's detached copy is gone
  CHECK_THROWS_AS(loss.backward(), Error);
}

TEST_CASE("autograd: views carry gradients back to their source") {
  Tensor x = arange(0, 6, 1, DType::f64).set_requires_grad();
  Tensor m = x.reshape({2, 3});
  Tensor y = sum(m[1] * 2.0) + sum(m.slice(0, 1));
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("autograd: a branch that gets no gradient does not stall the rest") {
  Tensor x = ones({2}, DType::f64).set_requires_grad();
  Tensor h = x * 2.0;
  Tensor unused = argmax(h, 0);  // non-differentiable use
  Tensor y = sum(h * h);
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{8, 8});
  (void)unused;
}

TEST_CASE("autograd: in-place updates of tensors that autograd tracks are refused") {
  Tensor p = ones({2}).set_requires_grad();
  CHECK_THROWS_AS(p.fill_(0), Error);
  {
    NoGradGuard guard;  // how optimizers update parameters
    p.fill_(3);
  }
  CHECK(p.to_vector<float>() == std::vector<float>{3, 3});
  CHECK_THROWS_AS(arange(0, 3).set_requires_grad().fill_(1), Error);
  CHECK_THROWS_AS(arange(0, 3, 1, DType::i64).set_requires_grad(), Error);
}
