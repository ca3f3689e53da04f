// Philox draws on CUDA equal the CPU's, element for element, for every dtype and kind.
#include <algorithm>

#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {
struct Draw {
  RandomKind kind;
  double a, b;
  const char* name;
};
}  // namespace

TEST_CASE("cuda: random matches the CPU (uniform, normal, randint)") {
  const Draw draws[] = {{RandomKind::uniform, 0, 1, "uniform[0,1)"},
                        {RandomKind::uniform, -3, 5, "uniform[-3,5)"},
                        {RandomKind::normal, 0, 1, "normal(0,1)"},
                        {RandomKind::normal, 2, 0.5, "normal(2,0.5)"},
                        {RandomKind::randint, 0, 10, "randint[0,10)"},
                        {RandomKind::randint, -1000, 1000, "randint[-1000,1000)"}};
  const DType dtypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                          DType::i32, DType::i64, DType::u8};
  for (const Draw& d : draws) {
    for (DType dt : dtypes) {
      if (dt == DType::u8 && (d.a < 0 || d.kind == RandomKind::normal)) continue;  // no negatives
      bool integral = !is_floating(dt);
      if (integral && d.kind != RandomKind::randint) continue;
      for (int64_t n : sizes()) {
        for (uint64_t offset : {uint64_t(0), uint64_t(12345), uint64_t(1) << 40}) {
          uint64_t seed = 0x5eed + uint64_t(n);
          Tensor out = poisoned({n}, dt);
          gpu().random(out, d.kind, d.a, d.b, seed, offset);
          Tensor expected = Tensor::empty({n}, dt);
          cpu().random(expected, d.kind, d.a, d.b, seed, offset);
          // Uniform and randint are computed with the same double operations: bit-identical.
          // A normal goes through log and cos, where CUDA and libm may round the last bit of
          // a double differently; float32 and narrower outputs round that away (almost
          // always: one float ulp is allowed).
          Tol tol{0, 0};
          if (d.kind == RandomKind::normal)
            tol = dt == DType::f64 ? Tol{1e-14, 1e-15} : Tol{2.4e-7, 0};
          WHET_CHECK_CLOSE(std::string("random ") + d.name + " " + dtype_name(dt) +
                               " n=" + std::to_string(n) + " offset=" + std::to_string(offset),
                           out, expected, tol);
        }
      }
    }
  }
}

TEST_CASE("cuda: a draw at an offset is the matching slice of a longer draw") {
  int64_t n = 10007, k = 333;
  Tensor whole = poisoned({n}, DType::f64);
  gpu().random(whole, RandomKind::uniform, 0, 1, 99, 1000);
  Tensor part = poisoned({n - k}, DType::f64);
  gpu().random(part, RandomKind::uniform, 0, 1, 99, 1000 + uint64_t(k));
  std::vector<double> w = values(whole), p = values(part);
  CHECK(std::equal(p.begin(), p.end(), w.begin() + k));
  double lo = *std::min_element(w.begin(), w.end()), hi = *std::max_element(w.begin(), w.end());
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
}

TEST_CASE("cuda: dropout mask matches the CPU") {
  for (double p : {0.0, 0.1, 0.5, 0.9}) {
    for (DType dt : kFloatDTypes) {
      for (int64_t n : sizes()) {
        Tensor out = poisoned({n}, dt);
        gpu().dropout_mask(out, p, 42, 7);
        // The CPU kernel takes float32 and float64; half masks are its float32 mask converted
        // (1 / (1 - p) rounds through float either way).
        DType ref_dt = dt == DType::f64 ? DType::f64 : DType::f32;
        Tensor expected = Tensor::empty({n}, ref_dt);
        cpu().dropout_mask(expected, p, 42, 7);
        WHET_CHECK_CLOSE(std::string("dropout p=") + std::to_string(p) + " " + dtype_name(dt) +
                             " n=" + std::to_string(n),
                         out, cast_cpu(expected, dt), Tol{0, 0});
      }
    }
  }
}
