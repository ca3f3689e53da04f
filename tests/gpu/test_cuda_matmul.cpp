// Batched matmul through cuBLAS against the CPU GEMM (Eigen): odd extents, every transpose
// combination, batch broadcasting, float32/float64 and the half types.
#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

struct Gemm {
  int64_t ba, bb, m, n, k;  // batch extents of a and b (1 broadcasts), then M, N, K
};

// Tolerances, loosened from ARCHITECTURE.md's elementwise ones because the two GEMMs sum the
// K products in different orders (the error grows with K; K here is at most 511):
// float32 vs float32 and float64 vs float64; half outputs against a float32 reference on the
// same rounded inputs (the half result's own rounding dominates).
Tol gemm_tol(DType dt) {
  switch (dt) {
    case DType::f32:
      return {1e-5, 1e-4};
    case DType::f64:
      return {1e-12, 1e-12};
    case DType::f16:
      return {1e-3, 1e-3};
    default:
      return {1.6e-2, 1e-2};
  }
}

void check_matmul(const Gemm& g, DType dt, bool ta, bool tb, uint64_t seed) {
  int64_t batch = std::max(g.ba, g.bb);
  Shape sa = ta ? Shape{g.ba, g.k, g.m} : Shape{g.ba, g.m, g.k};
  Shape sb = tb ? Shape{g.bb, g.n, g.k} : Shape{g.bb, g.k, g.n};
  Tensor a = uniform_cpu(sa, dt, -1, 1, seed), b = uniform_cpu(sb, dt, -1, 1, seed + 1);
  DType rd = dt == DType::f64 ? DType::f64 : DType::f32;  // the CPU GEMM's types
  Tensor expected = Tensor::empty({batch, g.m, g.n}, rd);
  cpu().matmul(cast_cpu(a, rd), cast_cpu(b, rd), ta, tb, expected);
  Tensor out = poisoned({batch, g.m, g.n}, dt);
  gpu().matmul(to_gpu(a), to_gpu(b), ta, tb, out);
  std::ostringstream what;
  what << "matmul " << dtype_name(dt) << " a" << shape_str(sa) << (ta ? "^T" : "") << " b"
       << shape_str(sb) << (tb ? "^T" : "");
  WHET_CHECK_CLOSE(what.str(), out, expected, gemm_tol(dt));
}

}  // namespace

TEST_CASE("cuda: matmul matches the CPU") {
  const Gemm shapes[] = {
      {1, 1, 1, 1, 1},       {1, 1, 7, 5, 3},   {3, 3, 33, 17, 65}, {2, 2, 128, 64, 96},
      {1, 1, 257, 129, 511}, {4, 1, 31, 9, 20}, {1, 5, 12, 30, 7},  {2, 2, 1, 300, 1},
  };
  uint64_t seed = 1;
  for (DType dt : kFloatDTypes)
    for (const Gemm& g : shapes)
      for (bool ta : {false, true})
        for (bool tb : {false, true}) check_matmul(g, dt, ta, tb, seed += 2);
}

TEST_CASE("cuda: matmul with K = 0 writes zeros") {
  for (DType dt : kFloatDTypes) {
    Tensor a = Tensor::empty({2, 5, 0}, dt, dev()), b = Tensor::empty({2, 0, 3}, dt, dev());
    Tensor out = poisoned({2, 5, 3}, dt);
    gpu().matmul(a, b, false, false, out);
    for (double v : values(out)) CHECK(v == 0.0);
  }
}

TEST_CASE("cuda: matmul rejects integer dtypes with whet::Error") {
  Tensor a = Tensor::empty({1, 2, 2}, DType::i32, dev());
  Tensor out = Tensor::empty({1, 2, 2}, DType::i32, dev());
  CHECK_THROWS_AS(gpu().matmul(a, a, false, false, out), Error);
}
