// Tensor basics: creation, views, copies, dtypes, printing, random numbers.
#include <doctest/doctest.h>

#include <cmath>

#include "core/ops.h"

using namespace whet;

TEST_CASE("tensor: creation fills the requested values and dtypes") {
  CHECK(zeros({2, 3}).to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(ones({4}, DType::i64).to_vector<int64_t>() == std::vector<int64_t>(4, 1));
  CHECK(full({2}, 2.5, DType::f64).to_vector<double>() == std::vector<double>{2.5, 2.5});
  CHECK(arange(0, 5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25, DType::f64).to_vector<double>() ==
        std::vector<double>{1, 1.25, 1.5, 1.75});
  Tensor e = Tensor::empty({0, 3});
  CHECK(e.numel() == 0);
  for (DType dt : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32, DType::i64,
                   DType::u8, DType::boolean}) {
    Tensor t = ones({3}, dt);
    CHECK(t.dtype() == dt);
    CHECK(t.nbytes() == 3 * dtype_size(dt));
    CHECK(t.to_vector<double>() == std::vector<double>{1, 1, 1});
  }
}

TEST_CASE("tensor: reshape and slices are views sharing storage") {
  Tensor t = arange(0, 12).reshape({3, 4});
  Tensor v = t.reshape({2, -1});
  CHECK(v.shape() == Shape{2, 6});
  CHECK(v.same_storage(t));
  Tensor rows = t.slice(1, 3);
  CHECK(rows.shape() == Shape{2, 4});
  CHECK(rows.to_vector<float>()[0] == 4.0f);
  CHECK(t[2].to_vector<float>() == std::vector<float>{8, 9, 10, 11});
  CHECK(t[-1].to_vector<float>() == std::vector<float>{8, 9, 10, 11});
  rows.fill_(7);
  CHECK(t.to_vector<float>()[4] == 7.0f);  // the view wrote into the shared storage
  CHECK(t.flatten().shape() == Shape{12});
  CHECK(t.unsqueeze(0).shape() == Shape{1, 3, 4});
  CHECK(t.unsqueeze(-1).squeeze(-1).shape() == Shape{3, 4});
}

TEST_CASE("tensor: clone, copy_ and casts copy values") {
  Tensor t = arange(0, 4, 1, DType::f64);
  Tensor c = t.clone();
  CHECK_FALSE(c.same_storage(t));
  c.fill_(1);
  CHECK(t.to_vector<double>() == std::vector<double>{0, 1, 2, 3});
  Tensor h = t.to(DType::f16);
  CHECK(h.dtype() == DType::f16);
  CHECK(h.to_vector<double>() == std::vector<double>{0, 1, 2, 3});
  Tensor b = Tensor::from_vector<float>({0.f, -2.f, 0.5f}, {3}).to(DType::boolean);
  CHECK(b.to_vector<int>() == std::vector<int>{0, 1, 1});
  Tensor dst = zeros({4});
  dst.copy_(t);
  CHECK(dst.to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  Tensor big = Tensor::from_vector<int64_t>({(int64_t(1) << 53) + 1}, {1});
  CHECK(big.to(DType::f64).to(DType::i64).item() == double(int64_t(1) << 53));
}

TEST_CASE("tensor: half and bfloat16 round to nearest even") {
  CHECK(float(Half(1.0f)) == 1.0f);
  CHECK(Half(65504.0f).bits == 0x7bff);
  CHECK(Half(65520.0f).bits == 0x7c00);      // rounds past the largest half: inf
  CHECK(Half(5.960464477539063e-08f).bits == 0x0001);  // smallest subnormal
  CHECK(Half(1.0f + 1.0f / 2048).bits == 0x3c00);      // tie rounds to even
  CHECK(Half(1.0f + 3.0f / 2048).bits == 0x3c02);
  CHECK(std::isnan(float(Half(NAN))));
  CHECK(BFloat16(1.0f + 1.0f / 256).bits == 0x3f80);  // tie to even
  CHECK(BFloat16(1.0f + 3.0f / 256).bits == 0x3f82);
  CHECK(float(BFloat16(-2.0f)) == -2.0f);
}

TEST_CASE("tensor: Philox draws are reproducible and well distributed") {
  Generator a(42), b(42);
  Tensor x = rand({10000}, DType::f64, Device::cpu(), a);
  Tensor y = rand({10000}, DType::f64, Device::cpu(), b);
  CHECK(x.to_vector<double>() == y.to_vector<double>());
  double m = mean(x).item();
  CHECK(m == doctest::Approx(0.5).epsilon(0.02));
  CHECK(amin(x).item() >= 0.0);
  CHECK(amax(x).item() < 1.0);
  Tensor n = randn({20000}, DType::f64, Device::cpu(), a);
  CHECK(mean(n).item() == doctest::Approx(0.0).epsilon(0.03));
  CHECK(mean(n * n).item() == doctest::Approx(1.0).epsilon(0.03));
  Tensor r = randint(3, 7, {1000}, DType::i64, Device::cpu(), a);
  CHECK(amin(r).item() == 3);
  CHECK(amax(r).item() == 6);
  // The generator advances: two draws differ; a slice of a draw equals a draw at its offset.
  CHECK(rand({4}, DType::f64, Device::cpu(), a).to_vector<double>() !=
        rand({4}, DType::f64, Device::cpu(), a).to_vector<double>());
  Generator c(7), d(7);
  std::vector<double> whole = rand({8}, DType::f64, Device::cpu(), c).to_vector<double>();
  d.set_offset(4);
  std::vector<double> tail = rand({4}, DType::f64, Device::cpu(), d).to_vector<double>();
  CHECK(std::vector<double>(whole.begin() + 4, whole.end()) == tail);
}

TEST_CASE("tensor: Philox4x32-10 matches the Random123 known-answer vector") {
  // Random123 kat_vectors: philox4x32 10 rounds, counter 0, key 0.
  Philox4 r = philox4x32_10(0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
}

TEST_CASE("tensor: printing shows values, shape and dtype") {
  std::string s = arange(0, 4, 1, DType::i64).reshape({2, 2}).str();
  CHECK(s.find("[[0, 1],") != std::string::npos);
  CHECK(s.find("shape=(2, 2)") != std::string::npos);
  CHECK(s.find("dtype=int64") != std::string::npos);
  CHECK(Tensor().str() == "tensor(undefined)");
  std::string big = zeros({100, 100}).str();
  CHECK(big.find("...") != std::string::npos);
}

TEST_CASE("tensor: reductions and argmax") {
  Tensor t = Tensor::from_vector<float>({1, 5, 3, 4, 2, 6}, {2, 3});
  CHECK(sum(t).item() == 21);
  CHECK(sum(t, {0}).to_vector<float>() == std::vector<float>{5, 7, 9});
  CHECK(sum(t, {1}, true).shape() == Shape{2, 1});
  CHECK(mean(t, {1}).to_vector<float>() == std::vector<float>{3, 4});
  CHECK(amax(t, {1}).to_vector<float>() == std::vector<float>{5, 6});
  CHECK(argmax(t, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 2});
  CHECK(argmin(t, 0).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0});
  CHECK(argmax(t, -1, true).shape() == Shape{2, 1});
}
