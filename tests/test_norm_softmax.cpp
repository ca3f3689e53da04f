// batch_norm, softmax, dropout and cross_entropy: conventions the gradient checks cannot see
// (running statistics, eval mode, random masks), error messages, and hand-computed values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"

using namespace whet;

namespace {

// The message of the whet::Error that f throws, or "" when it throws none.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor i64(const std::vector<int64_t>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

}  // namespace

TEST_CASE("batch_norm: running statistics follow PyTorch (momentum 0.1, unbiased variance)") {
  // Channel 0 holds 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
  // Channel 1 holds 2, 4, 6, 8: mean 5, biased variance 5, unbiased 20/3.
  Tensor x = f32({1, 2, 2, 4, 3, 6, 4, 8}, {4, 2});
  Tensor rm = zeros({2}), rv = ones({2});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);

  std::vector<float> m = rm.to_vector<float>(), v = rv.to_vector<float>();
  CHECK(m[0] == doctest::Approx(0.25));
  CHECK(m[1] == doctest::Approx(0.5));
  CHECK(v[0] == doctest::Approx(0.9 + 0.1 * 5.0 / 3.0));
  CHECK(v[1] == doctest::Approx(0.9 + 0.1 * 20.0 / 3.0));
  // The output itself is normalised with the biased variance.
  std::vector<float> ys = y.to_vector<float>();
  CHECK(ys[0] == doctest::Approx((1 - 2.5) / std::sqrt(1.25 + 1e-5)));
  CHECK(ys[7] == doctest::Approx((8 - 5) / std::sqrt(5 + 1e-5)));
}

TEST_CASE("batch_norm: NHWC statistics are per channel (the last dim)") {
  // (N=1, H=1, W=3, C=2): channel 0 is 0, 1, 2 and channel 1 is 10, 20, 30.
  Tensor x = f32({0, 10, 1, 20, 2, 30}, {1, 1, 3, 2});
  Tensor rm = zeros({2}), rv = ones({2});
  batch_norm(x, Tensor(), Tensor(), rm, rv, true, 1.0, 1e-5);
  std::vector<float> m = rm.to_vector<float>(), v = rv.to_vector<float>();
  CHECK(m[0] == doctest::Approx(1));
  CHECK(m[1] == doctest::Approx(20));
  CHECK(v[0] == doctest::Approx(1));    // unbiased: (1 + 0 + 1) / 2
  CHECK(v[1] == doctest::Approx(100));  // (100 + 0 + 100) / 2
}

TEST_CASE("batch_norm: eval mode normalises with the running statistics and keeps them") {
  Tensor x = f32({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor rm = f32({1, -1}, {2}), rv = f32({4, 0.25f}, {2});
  Tensor w = f32({2, 1}, {2}), b = f32({0.5f, 0}, {2});
  Tensor y = batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5);
  std::vector<float> ys = y.to_vector<float>();
  for (int i = 0; i < 3; ++i) {
    CHECK(ys[size_t(2 * i)] == doctest::Approx((2 * i + 1 - 1) / std::sqrt(4 + 1e-5) * 2 + 0.5));
    CHECK(ys[size_t(2 * i + 1)] == doctest::Approx((2 * i + 2 + 1) / std::sqrt(0.25 + 1e-5)));
  }
  CHECK(rm.to_vector<float>() == std::vector<float>{1, -1});
  CHECK(rv.to_vector<float>() == std::vector<float>{4, 0.25f});
  // One value per channel is fine in eval: nothing is estimated from the batch.
  CHECK_NOTHROW(batch_norm(f32({1, 2}, {1, 2}), w, b, rm, rv, false));
}

TEST_CASE("batch_norm: float32 statistics stay accurate for a large mean") {
  // Values 1e4 + {-1, +1}: a one-pass float sum of squares would lose the variance entirely.
  std::vector<float> v;
  for (int i = 0; i < 4096; ++i) v.push_back(i % 2 ? 10001.f : 9999.f);
  Tensor x = f32(v, {4096, 1});
  Tensor rm = zeros({1}), rv = zeros({1});
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 1.0, 0.0);
  CHECK(rm.item() == doctest::Approx(10000));
  CHECK(rv.item() == doctest::Approx(4096.0 / 4095.0));
  std::vector<float> ys = y.to_vector<float>();
  CHECK(ys[0] == doctest::Approx(-1).epsilon(1e-4));
  CHECK(ys[1] == doctest::Approx(1).epsilon(1e-4));
}

TEST_CASE("batch_norm: argument errors name the op and the shapes") {
  Tensor rm = zeros({3}), rv = ones({3});
  std::string e = error_of([&] { batch_norm(zeros({2, 3, 3}), Tensor(), Tensor(), rm, rv, true); });
  CHECK(contains(e, "batch_norm"));
  CHECK(contains(e, "(2, 3, 3)"));
  e = error_of([&] { batch_norm(zeros({2, 3}), ones({4}), Tensor(), rm, rv, true); });
  CHECK(contains(e, "batch_norm"));
  CHECK(contains(e, "weight"));
  CHECK(contains(e, "(4,)"));
  e = error_of([&] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), rm, rv, true); });
  CHECK(contains(e, "batch_norm"));
  CHECK(contains(e, "more than 1 value per channel"));
  e = error_of([&] { batch_norm(zeros({1, 1, 1, 3}), Tensor(), Tensor(), rm, rv, true); });
  CHECK(contains(e, "more than 1 value per channel"));
  e = error_of([&] { batch_norm(zeros({2, 3}), Tensor(), Tensor(), rm, Tensor(), true); });
  CHECK(contains(e, "batch_norm"));
  e = error_of([&] { batch_norm(zeros({2, 3}, DType::f64), Tensor(), Tensor(), rm, rv, true); });
  CHECK(contains(e, "batch_norm"));
}

TEST_CASE("batch_norm: gradients flow to input, weight and bias") {
  Generator g(3);
  Tensor x = rand({2, 2, 2, 3}, DType::f64, Device::cpu(), g).set_requires_grad();
  Tensor w = ones({3}, DType::f64).set_requires_grad();
  Tensor b = zeros({3}, DType::f64).set_requires_grad();
  Tensor y = batch_norm(x, w, b, Tensor(), Tensor(), true);
  sum(y).backward();
  // sum(y) = sum(w * xhat + b): xhat sums to 0 per channel, so gw = 0, gb = M, gx = 0.
  for (double v : w.grad().to_vector<double>()) CHECK(std::abs(v) < 1e-9);
  for (double v : b.grad().to_vector<double>()) CHECK(v == doctest::Approx(8));
  for (double v : x.grad().to_vector<double>()) CHECK(std::abs(v) < 1e-9);
}

TEST_CASE("softmax: rows sum to 1 and large logits stay finite") {
  Tensor x = f32({1000, 1001, 1002, -1000, 0, 1000}, {2, 3});
  std::vector<float> y = softmax(x).to_vector<float>();
  std::vector<float> ref = softmax(f32({0, 1, 2}, {3})).to_vector<float>();
  for (int j = 0; j < 3; ++j) CHECK(y[size_t(j)] == doctest::Approx(ref[size_t(j)]));
  CHECK(y[0] + y[1] + y[2] == doctest::Approx(1));
  CHECK(y[3] + y[4] + y[5] == doctest::Approx(1));
  CHECK(y[5] == doctest::Approx(1));

  std::vector<float> ly = log_softmax(x).to_vector<float>();
  for (float v : ly) CHECK(std::isfinite(v));
  CHECK(ly[4] == doctest::Approx(-1000));
  CHECK(ly[3] == doctest::Approx(-2000));

  // Over dim 0 of a (3, 2) tensor: each column sums to 1.
  std::vector<float> c = softmax(f32({1, 2, 3, 4, 5, 6}, {3, 2}), 0).to_vector<float>();
  CHECK(c[0] + c[2] + c[4] == doctest::Approx(1));
  CHECK(c[1] + c[3] + c[5] == doctest::Approx(1));
  CHECK(contains(error_of([] { softmax(zeros({2, 3}), 2); }), "softmax"));
  CHECK(contains(error_of([] { log_softmax(zeros({2}, DType::i64)); }), "log_softmax"));
}

TEST_CASE("cross_entropy: known values") {
  // log(e + e^2 + e^3) = 3.40760596...
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  Tensor logits = f32({1, 2, 3, 1, 2, 3}, {2, 3});
  Tensor t = i64({2, 0});
  CrossEntropyOptions o;
  CHECK(cross_entropy(logits, t, o).item() == doctest::Approx(((lse - 3) + (lse - 1)) / 2));
  o.reduction = Reduction::sum;
  CHECK(cross_entropy(logits, t, o).item() == doctest::Approx((lse - 3) + (lse - 1)));
  o.reduction = Reduction::none;
  std::vector<float> l = cross_entropy(logits, t, o).to_vector<float>();
  CHECK(l[0] == doctest::Approx(lse - 3));
  CHECK(l[1] == doctest::Approx(lse - 1));

  // Weighted mean divides by the weights of the targets: (1*(lse-3) + 3*(lse-1)) / (1 + 3).
  Tensor w = f32({3, 2, 1}, {3});
  o.reduction = Reduction::mean;
  CHECK(cross_entropy(logits, t, o, w).item() ==
        doctest::Approx((1 * (lse - 3) + 3 * (lse - 1)) / 4));
  // An ignored sample contributes neither loss nor weight.
  o.ignore_index = 0;
  CHECK(cross_entropy(logits, t, o, w).item() == doctest::Approx(lse - 3));
  // Label smoothing 0.2 over 3 classes: 0.8 * nll + 0.2/3 * sum_c(-logp_c).
  CrossEntropyOptions s;
  s.label_smoothing = 0.2;
  double smooth = (lse - 1) + (lse - 2) + (lse - 3);
  CHECK(cross_entropy(logits.slice(0, 1), t.slice(0, 1), s).item() ==
        doctest::Approx(0.8 * (lse - 3) + 0.2 / 3 * smooth));
}

TEST_CASE("cross_entropy: gradient is (softmax - onehot) / N") {
  Tensor logits = f32({1, 2, 3, 0, 0, 0}, {2, 3}).set_requires_grad();
  cross_entropy(logits, i64({2, 1})).backward();
  std::vector<float> p = softmax(logits.detach()).to_vector<float>();
  std::vector<float> g = logits.grad().to_vector<float>();
  for (int i = 0; i < 6; ++i) {
    double onehot = (i == 2 || i == 4) ? 1.0 : 0.0;
    CHECK(g[size_t(i)] == doctest::Approx((p[size_t(i)] - onehot) / 2));
  }
}

TEST_CASE("cross_entropy: empty batch and errors") {
  CrossEntropyOptions sum_o;
  sum_o.reduction = Reduction::sum;
  CHECK(cross_entropy(zeros({0, 3}), i64({}), sum_o).item() == 0);
  CHECK(std::isnan(cross_entropy(zeros({0, 3}), i64({})).item()));  // 0/0, as PyTorch

  std::string e = error_of([] { cross_entropy(zeros({2, 3}), i64({0, 5})); });
  CHECK(contains(e, "cross_entropy"));
  CHECK(contains(e, "target 5"));
  e = error_of([] { cross_entropy(zeros({2, 3}), i64({-1, 0})); });
  CHECK(contains(e, "target -1"));
  e = error_of([] { cross_entropy(zeros({3}), i64({0, 1, 2})); });
  CHECK(contains(e, "cross_entropy"));
  CHECK(contains(e, "(3,)"));
  e = error_of([] { cross_entropy(zeros({2, 3}), i64({0, 1, 2})); });
  CHECK(contains(e, "(2, 3)"));
  e = error_of([] { cross_entropy(zeros({2, 3}), zeros({2})); });
  CHECK(contains(e, "int64"));
  e = error_of([] { cross_entropy(zeros({2, 3}), i64({0, 1}), {}, ones({4})); });
  CHECK(contains(e, "class_weight"));
}

TEST_CASE("dropout: keeps about 1-p of the values, scaled by 1/(1-p), same seed same mask") {
  const double p = 0.25;
  Tensor x = ones({100000});
  Generator g1(99), g2(99);
  std::vector<float> a = dropout(x, p, true, g1).to_vector<float>();
  std::vector<float> b = dropout(x, p, true, g2).to_vector<float>();
  CHECK(a == b);
  size_t kept = 0;
  for (float v : a) {
    if (v != 0) {
      ++kept;
      CHECK(v == doctest::Approx(1 / (1 - p)));
    }
  }
  CHECK(double(kept) / double(a.size()) == doctest::Approx(1 - p).epsilon(0.02));
  // The generator moved on: the next draw is a different mask.
  CHECK(dropout(x, p, true, g1).to_vector<float>() != a);

  // Eval and p = 0 return the input itself.
  CHECK(dropout(x, p, false, g1).same_storage(x));
  CHECK(dropout(x, 0.0, true, g1).same_storage(x));
}

TEST_CASE("dropout: gradient is the mask, and p outside 0 <= p < 1 is an error") {
  Tensor x = ones({1000}, DType::f64).set_requires_grad();
  Generator g(5);
  Tensor y = dropout(x, 0.5, true, g);
  sum(y).backward();
  CHECK(x.grad().to_vector<double>() == y.detach().to_vector<double>());
  CHECK(contains(error_of([&] { dropout(x, 1.0, true, g); }), "dropout"));
  CHECK(contains(error_of([&] { dropout(x, -0.1, true, g); }), "dropout"));
  CHECK(contains(error_of([&] { dropout(x, 1.5, false, g); }), "dropout"));
}

TEST_CASE("dropout: the shares of a batch draw the whole batch's masks, as data parallelism needs") {
  Generator whole(7);
  const std::vector<float> first = dropout(ones({6, 5}), 0.5, true, whole).to_vector<float>();
  const std::vector<float> second = dropout(ones({6, 5}), 0.5, true, whole).to_vector<float>();
  // Equal shares (processes) and unequal ones (micro-batches of a ragged batch), computed in
  // any order: the pieces put together are the whole batch's masks.
  const std::vector<std::vector<int64_t>> splits = {{3, 3}, {2, 2, 2}, {1, 4, 1}, {6}};
  for (const auto& split : splits) {
    CAPTURE(split.size());
    std::vector<float> got_first(first.size()), got_second(second.size());
    int64_t row = 0;
    for (int64_t rows : split) {
      Generator g(7);
      BatchShardGuard shard(row, rows, 6);
      for (auto* got : {&got_first, &got_second}) {
        const std::vector<float> part = dropout(ones({rows, 5}), 0.5, true, g).to_vector<float>();
        std::copy(part.begin(), part.end(), got->begin() + row * 5);
      }
      CHECK(g.offset() == whole.offset());  // every share moved past the whole batch twice
      row += rows;
    }
    CHECK(got_first == first);
    CHECK(got_second == second);
  }
  CHECK(current_batch_shard().total == 0);  // the guards restored the whole batch
  CHECK(contains(error_of([] { BatchShardGuard bad(4, 3, 6); }), "rows [4, 7)"));
  Generator g(7);
  BatchShardGuard shard(0, 3, 6);
  CHECK(contains(error_of([&] { dropout(ones({5, 3}), 0.5, true, g); }), "batch-major"));
}

TEST_CASE("half inputs are computed in float32 and returned in their own dtype") {
  Tensor x = f32({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}).to(DType::f16).set_requires_grad();
  Tensor rm = zeros({2}), rv = ones({2});  // float32 statistics beside a half input, as AMP
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 1.0);
  CHECK(y.dtype() == DType::f16);
  CHECK(rm.to_vector<float>() == std::vector<float>{4, 5});
  sum(y).backward();
  CHECK(x.grad().dtype() == DType::f16);

  Tensor rmh = zeros({2}, DType::f16), rvh = ones({2}, DType::f16);
  batch_norm(x.detach(), Tensor(), Tensor(), rmh, rvh, true, 1.0);
  CHECK(rmh.to_vector<float>() == std::vector<float>{4, 5});

  Tensor l = f32({1, 2, 3}, {1, 3}).to(DType::bf16);
  CHECK(softmax(l).dtype() == DType::bf16);
  Tensor loss = cross_entropy(l, i64({2}));
  CHECK(loss.dtype() == DType::bf16);
  CHECK(loss.item() == doctest::Approx(0.4076).epsilon(1e-2));
}
