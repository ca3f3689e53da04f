// Reductions, data movement, softmax and cross-entropy on CUDA against the CPU kernels, on
// fresh random inputs with poisoned outputs, at shapes that reach every launch layout of
// reduce.cu and softmax.cu (warp rows, block rows, columns, R split over blocks) and of
// movement.cu (one copy, gather, widened gather, tiled transpose), plus their edges.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/gpu/gpu_test_util.h"

using namespace whet;
using namespace whet::gputest;

namespace {

constexpr ReduceOp kReduceOps[] = {ReduceOp::sum, ReduceOp::mean,   ReduceOp::max,
                                   ReduceOp::min, ReduceOp::argmax, ReduceOp::argmin};
const DType kNumericDTypes[] = {DType::f32, DType::f64, DType::f16, DType::bf16,
                                DType::i32, DType::i64, DType::u8};

// Half types are referenced by the float32 CPU computation on the same (already rounded)
// inputs; the other dtypes by the CPU in their own type.
DType ref_dtype(DType dt) { return is_half(dt) ? DType::f32 : dt; }

bool is_arg(ReduceOp op) { return op == ReduceOp::argmax || op == ReduceOp::argmin; }

std::string label(const std::string& op, DType dt, const std::string& shape) {
  return op + " " + dtype_name(dt) + " " + shape;
}
std::string dims3(int64_t a, int64_t b, int64_t c) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ")";
}

// Fresh values for dt: uniform [lo, hi) for floating types, small integers (with many ties)
// otherwise, 0/1 for bool.
Tensor random_cpu(const Shape& s, DType dt, uint64_t seed, double lo = -1, double hi = 1) {
  if (is_floating(dt)) return uniform_cpu(s, dt, lo, hi, seed);
  if (dt == DType::boolean) return cast_cpu(randint_cpu(s, DType::i64, 0, 2, seed), dt);
  return randint_cpu(s, dt, dt == DType::u8 ? 0 : -50, 50, seed);
}

double unit_roundoff(DType dt) { return dt == DType::f64 ? 0x1p-53 : 0x1p-24; }

// sum and mean of |x| < 1: the GPU accumulates in float (double for f64) in a tree, the CPU in
// double in order, so they differ by up to about u * sum |x| <= u * R; loosened by that.
// max/min pick an element and the arg forms an index: exact.
Tol reduce_tol(ReduceOp op, DType dt, int64_t r) {
  if (!is_floating(dt) || (op != ReduceOp::sum && op != ReduceOp::mean)) return {0, 0};
  Tol t = tolerance(dt);
  t.atol += unit_roundoff(dt) * double(op == ReduceOp::sum ? std::max<int64_t>(r, 1) : 1);
  return t;
}

// Softmax and cross-entropy sum D exponentials in float on the GPU (in a tree, double on the
// CPU); their rounding errors grow like sqrt(D), and the relative tolerance with them.
Tol line_tol(DType dt, int64_t d) {
  Tol t = tolerance(dt);
  if (dt != DType::f64) t.rtol += 0x1p-24 * std::sqrt(double(std::max<int64_t>(d, 1)));
  return t;
}

struct Dims {
  int64_t outer, r, inner;
};

// Each reaches a layout: R = 1 and R <= 16 (columns over rows), warp rows, block rows, rows
// split over blocks (two passes), columns with 1 to 8 threads per line, columns split, a
// large inner and a large outer.
const Dims kReduceDims[] = {
    {1, 1, 1},
    {5, 1, 1},
    {1, 1, 7},
    {3, 1, 5},
    {4, 7, 1},
    {6, 17, 1},
    {33, 1000, 1},
    {3, 1025, 1},
    {2, 5000, 1},
    {1, 100003, 1},
    {3, 5, 7},
    {2, 300, 33},
    {1, 100003, 3},
    {1, 20000, 64},
    {4, 3, (1 << 18) + 1},
    {(1 << 20) + 1, 3, 1},
    {2, 70001, 1},
    {0, 5, 3},
};

void check_reduce(ReduceOp op, DType dt, const Dims& s, uint64_t seed) {
  const auto [outer, r, inner] = s;
  Tensor x = random_cpu({outer, r, inner}, dt, seed);
  const DType out_dt = is_arg(op) ? DType::i64 : dt;
  Tensor expected = Tensor::empty({outer, inner}, is_arg(op) ? DType::i64 : ref_dtype(dt));
  cpu().reduce(op, cast_cpu(x, ref_dtype(dt)), outer, r, inner, expected);
  const std::string what = label(reduce_op_name(op), dt, dims3(outer, r, inner));

  Tensor out = poisoned({outer, inner}, out_dt);
  gpu().reduce(op, to_gpu(x), outer, r, inner, out);
  WHET_CHECK_CLOSE(what, out, expected, reduce_tol(op, dt, r));

  if (inner == 1 && x.numel() > 0) {  // rows read 16-byte vectors when aligned; here they cannot
    Tensor outm = poisoned({outer, inner}, out_dt);
    gpu().reduce(op, misaligned_gpu(x), outer, r, inner, outm);
    WHET_CHECK_CLOSE(what + " misaligned", outm, expected, reduce_tol(op, dt, r));
  }
}

}  // namespace

TEST_CASE("cuda: reduce matches the CPU for every op, dtype and layout") {
  uint64_t seed = 1;
  for (ReduceOp op : kReduceOps)
    for (DType dt : kNumericDTypes)
      for (const Dims& s : kReduceDims) check_reduce(op, dt, s, seed++);
}

TEST_CASE("cuda: reduce over an empty R gives 0 for sum and NaN for mean") {
  for (DType dt : kFloatDTypes) {
    Tensor x = to_gpu(Tensor::empty({2, 0, 3}, dt));
    Tensor s = poisoned({2, 3}, dt);
    gpu().reduce(ReduceOp::sum, x, 2, 0, 3, s);
    WHET_CHECK_CLOSE(label("sum", dt, "R=0"), s,
                     Tensor::from_vector(std::vector<double>(6, 0.0), {2, 3}, dt), Tol{0, 0});
    // NaN is the poison too, so mean's output starts as 7 instead.
    Tensor m = to_gpu(Tensor::empty({2, 3}, dt));
    gpu().fill(m, 7.0);
    gpu().reduce(ReduceOp::mean, x, 2, 0, 3, m);
    for (double v : values(m)) CHECK_MESSAGE(std::isnan(v), label("mean", dt, "R=0") << ": " << v);
  }
  // max/min have no identity: an error naming the op, as the op layer reports.
  Tensor x = to_gpu(Tensor::empty({2, 0, 3}, DType::f32));
  Tensor out = poisoned({2, 3}, DType::f32);
  CHECK_THROWS_WITH_AS(gpu().reduce(ReduceOp::max, x, 2, 0, 3, out),
                       doctest::Contains("amax: cannot reduce over an empty dimension"), Error);
}

namespace {

// x (outer, r, inner) with the given (index along R, value) set in every line, the rest `fill`.
Tensor lines_with(int64_t outer, int64_t r, int64_t inner, double fill,
                  const std::vector<std::pair<int64_t, double>>& at, DType dt) {
  std::vector<double> v(size_t(outer * r * inner), fill);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j)
      for (auto [k, value] : at) v[size_t((o * r + k) * inner + j)] = value;
  return cast_cpu(Tensor::from_vector(v, {outer, r, inner}), dt);
}

// The GPU result of op on x, checked to be `want` in every line, and (bit for bit, NaN and the
// sign of zero included) equal to the CPU's on the same input.
void check_extreme(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                   double want, const std::string& what) {
  const DType dt = x.dtype(), out_dt = is_arg(op) ? DType::i64 : dt;
  Tensor out = poisoned({outer, inner}, out_dt);
  gpu().reduce(op, to_gpu(x), outer, r, inner, out);
  Tensor ref = Tensor::empty({outer, inner}, is_arg(op) ? DType::i64 : ref_dtype(dt));
  cpu().reduce(op, cast_cpu(x, ref_dtype(dt)), outer, r, inner, ref);
  std::vector<double> got = values(out), cpu_got = values(ref);
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string where = what + " line " + std::to_string(i) + ": got " +
                              std::to_string(got[i]) + ", CPU " + std::to_string(cpu_got[i]);
    if (std::isnan(want)) {
      CHECK_MESSAGE((std::isnan(got[i]) && std::isnan(cpu_got[i])), where);
    } else {
      CHECK_MESSAGE((got[i] == want && cpu_got[i] == want), where);
      CHECK_MESSAGE(std::signbit(got[i]) == std::signbit(cpu_got[i]), where << " (sign of zero)");
    }
  }
}

}  // namespace

TEST_CASE("cuda: argmax and argmin keep the first tie and NaN wins, as on the CPU") {
  // Every layout: warp rows, block rows, split rows, columns, split columns.
  const Dims dims[] = {{3, 500, 1}, {2, 5000, 1}, {1, 100003, 1}, {4, 300, 5}, {1, 100003, 3}};
  for (DType dt : kFloatDTypes) {
    for (const auto& [outer, r, inner] : dims) {
      const std::string shape = dims3(outer, r, inner);
      const int64_t a = r / 3, b = r - 2;  // two equal maxima, far apart (different chunks)
      Tensor ties = lines_with(outer, r, inner, 0.25, {{a, 1.5}, {b, 1.5}, {r / 2, -2.0}}, dt);
      check_extreme(ReduceOp::argmax, ties, outer, r, inner, double(a), label("argmax", dt, shape));
      check_extreme(ReduceOp::argmin, ties, outer, r, inner, double(r / 2),
                    label("argmin", dt, shape));
      check_extreme(ReduceOp::max, ties, outer, r, inner, 1.5, label("max", dt, shape));

      Tensor flat = lines_with(outer, r, inner, 0.5, {}, dt);  // all equal: index 0
      check_extreme(ReduceOp::argmax, flat, outer, r, inner, 0, label("argmax flat", dt, shape));
      check_extreme(ReduceOp::argmin, flat, outer, r, inner, 0, label("argmin flat", dt, shape));

      // NaN beats every number, and the first NaN beats the later one.
      Tensor nan = lines_with(outer, r, inner, 0.5, {{b, NAN}, {a, NAN}, {0, 9.0}}, dt);
      check_extreme(ReduceOp::argmax, nan, outer, r, inner, double(a),
                    label("argmax NaN", dt, shape));
      check_extreme(ReduceOp::argmin, nan, outer, r, inner, double(a),
                    label("argmin NaN", dt, shape));
      check_extreme(ReduceOp::max, nan, outer, r, inner, NAN, label("max NaN", dt, shape));
      check_extreme(ReduceOp::min, nan, outer, r, inner, NAN, label("min NaN", dt, shape));

      // -0 and +0 tie: the first one is returned, with its sign.
      Tensor zeros = lines_with(outer, r, inner, -1.0, {{1, -0.0}, {r - 1, 0.0}}, dt);
      check_extreme(ReduceOp::max, zeros, outer, r, inner, -0.0, label("max -0", dt, shape));
      check_extreme(ReduceOp::argmax, zeros, outer, r, inner, 1, label("argmax -0", dt, shape));
    }
  }
}

namespace {

struct PermuteCase {
  Shape shape;
  std::vector<int64_t> perm;
};

// One copy (rank 0, identity, dims of 1), gather (small extents), widened gather (rows
// contiguous in x), tiled transposes (with ragged tiles and batches), and a rank-7 shuffle.
const PermuteCase kPermuteCases[] = {
    {{}, {}},
    {{7}, {0}},
    {{1, 1}, {1, 0}},
    {{5, 1, 7}, {1, 0, 2}},
    {{2, 3, 4}, {2, 0, 1}},
    {{2, 3, 4}, {1, 0, 2}},
    {{5, 1, 7}, {2, 1, 0}},
    {{6, 5, 64}, {1, 0, 2}},
    {{1000, 3, 4}, {1, 0, 2}},
    {{64, 33}, {1, 0}},
    {{33, 64, 17}, {2, 1, 0}},
    {{2, 9, 11, 3}, {0, 3, 1, 2}},
    {{2, 3, 9, 11}, {0, 2, 3, 1}},
    {{4, 37, 45, 20}, {0, 3, 1, 2}},
    {{3, 257, 129}, {0, 2, 1}},
    {{16, 256, 257}, {0, 2, 1}},
    {{2, 3, 4, 5, 6, 7, 2}, {6, 4, 2, 0, 1, 3, 5}},
    {{1, 5, 1, 7}, {3, 2, 1, 0}},
};

std::string perm_str(const std::vector<int64_t>& p) { return shape_str(p); }

}  // namespace

TEST_CASE("cuda: permute matches the CPU for every dtype") {
  uint64_t seed = 20000;
  for (const auto& [shape, perm] : kPermuteCases) {
    Shape os(shape.size());
    for (size_t k = 0; k < perm.size(); ++k) os[k] = shape[size_t(perm[k])];
    const int64_t n = numel(shape);
    for (DType dt : kAllDTypes) {
      Tensor x = random_cpu(shape, dt, seed++);
      Tensor expected = Tensor::empty(os, dt);
      cpu().permute(x, perm, expected);
      const std::string what = label("permute", dt, shape_str(shape) + " by " + perm_str(perm));
      Tensor out = poisoned(os, dt);
      gpu().permute(to_gpu(x), perm, out);
      WHET_CHECK_CLOSE(what, out, expected, Tol{0, 0});
      // Misaligned views: the widened unit must fall back to the element size.
      Tensor outm = poisoned({n + 1}, dt).slice(1, n + 1).reshape(os);
      gpu().permute(misaligned_gpu(x).reshape(shape), perm, outm);
      WHET_CHECK_CLOSE(what + " misaligned", outm, expected, Tol{0, 0});
    }
  }
}

namespace {

struct BlockCase {
  int64_t outer, narrow, wide, col;  // the block is `narrow` columns of a `wide` row
};

const BlockCase kBlockCases[] = {
    {1, 1, 1, 0},       {5, 3, 10, 4},  {7, 8, 24, 8},
    {1000, 16, 64, 48}, {300, 7, 7, 0}, {3, (1 << 20), (1 << 20) + 5, 5},
    {0, 3, 5, 1},       {4, 0, 5, 2},   {129, 33, 100, 67},
};

}  // namespace

TEST_CASE("cuda: copy_block and extract_block match the CPU for every dtype") {
  uint64_t seed = 30000;
  for (const auto& [outer, narrow, wide, col] : kBlockCases) {
    const std::string shape = "outer " + std::to_string(outer) + ", columns [" +
                              std::to_string(col) + ", " + std::to_string(col + narrow) + ") of " +
                              std::to_string(wide);
    for (DType dt : kAllDTypes) {
      // copy_block writes the block and must leave the rest of out as it was.
      Tensor x = random_cpu({outer, narrow}, dt, seed++);
      Tensor before = random_cpu({outer, wide}, dt, seed++);
      Tensor out = to_gpu(before);
      Tensor expected = Tensor::empty({outer, wide}, dt);
      cpu().copy(before, expected);
      cpu().copy_block(x, outer, narrow, expected, wide, col);
      gpu().copy_block(to_gpu(x), outer, narrow, out, wide, col);
      WHET_CHECK_CLOSE(label("copy_block", dt, shape), out, expected, Tol{0, 0});

      Tensor src = random_cpu({outer, wide}, dt, seed++);
      Tensor block = Tensor::empty({outer, narrow}, dt);
      cpu().extract_block(src, outer, wide, block, narrow, col);
      Tensor got = poisoned({outer, narrow}, dt);
      gpu().extract_block(to_gpu(src), outer, wide, got, narrow, col);
      WHET_CHECK_CLOSE(label("extract_block", dt, shape), got, block, Tol{0, 0});
      if (outer * wide > 0) {  // odd addresses: the unit falls back to the element size
        Tensor gotm = poisoned({outer * narrow + 1}, dt).slice(1, outer * narrow + 1);
        gpu().extract_block(misaligned_gpu(src), outer, wide, gotm, narrow, col);
        WHET_CHECK_CLOSE(label("extract_block misaligned", dt, shape), gotm, block, Tol{0, 0});
      }
    }
  }
}

namespace {

// Warp rows, block rows (1024 threads when the lines are few), columns with 1 to 8 threads
// per line, D = 1 and a large outer * inner.
const Dims kSoftmaxDims[] = {
    {1, 1, 1},      {3, 1, 4},    {5, 10, 1},  {7, 1000, 1},  {3, 1025, 1},   {300, 3000, 1},
    {2, 100003, 1}, {1000, 7, 1}, {4, 33, 17}, {2, 50, 1000}, {1, 64, 65536}, {1, 3000, 2},
};

}  // namespace

TEST_CASE("cuda: softmax and log_softmax match the CPU, forward and backward") {
  uint64_t seed = 40000;
  for (bool log : {false, true}) {
    const char* name = log ? "log_softmax" : "softmax";
    for (DType dt : kFloatDTypes) {
      const DType rd = ref_dtype(dt);
      for (const auto& [outer, d, inner] : kSoftmaxDims) {
        // Logits around 0 and around 1000: the max subtraction must keep the latter finite.
        for (double offset : {0.0, 1000.0}) {
          const Shape s = {outer, d, inner};
          const std::string what =
              label(name, dt, dims3(outer, d, inner) + " offset " + std::to_string(offset));
          Tensor x = uniform_cpu(s, dt, offset - 5, offset + 5, seed++);
          Tensor y_ref = Tensor::empty(s, rd);
          cpu().softmax(cast_cpu(x, rd), outer, d, inner, log, y_ref);
          Tensor y = poisoned(s, dt);
          gpu().softmax(to_gpu(x), outer, d, inner, log, y);
          // log_softmax's x - (max + log sum) rounds at the magnitude of the offset, on the
          // CPU and here alike, so a rounding step apart is one ulp of the offset.
          Tol tol = line_tol(dt, d);
          if (log) tol.atol += 2 * offset * unit_roundoff(dt);
          WHET_CHECK_CLOSE(what, y, y_ref, tol);

          // Backward from the saved output in the tensor's own dtype.
          Tensor ys = cast_cpu(y_ref, dt);
          Tensor gy = uniform_cpu(s, dt, -1, 1, seed++);
          Tensor gx_ref = Tensor::empty(s, rd);
          cpu().softmax_backward(cast_cpu(ys, rd), cast_cpu(gy, rd), outer, d, inner, log, gx_ref);
          Tensor gx = poisoned(s, dt);
          gpu().softmax_backward(to_gpu(ys), to_gpu(gy), outer, d, inner, log, gx);
          WHET_CHECK_CLOSE(what + " backward", gx, gx_ref, line_tol(dt, d));
        }
      }
    }
  }
}

namespace {

struct CrossEntropyCase {
  int64_t n, c;
  long ignore_index;
  double smoothing;
  bool weights;
  int ignore_every;  // every k-th target is set to ignore_index (0: none)
};

const CrossEntropyCase kCrossEntropyCases[] = {
    {1, 1, -100, 0, false, 0},       {7, 10, -100, 0, false, 3},      {7, 10, -100, 0.1, true, 3},
    {300, 1000, -100, 0.1, true, 5}, {64, 5000, 3, 0, true, 0},       {64, 5000, 3, 0.2, false, 0},
    {4096, 10, -100, 0.2, false, 7}, {2, 100003, -100, 0.1, true, 0}, {33, 17, -100, 0, true, 2},
    {5, 4, -100, 1.0, true, 0},      {6, 5, -100, 0.1, true, 1},      {0, 10, -100, 0.1, true, 0},
};

}  // namespace

TEST_CASE("cuda: cross_entropy matches the CPU with ignore_index, class weights and smoothing") {
  uint64_t seed = 50000;
  for (const CrossEntropyCase& k : kCrossEntropyCases) {
    CrossEntropyOptions o;
    o.ignore_index = k.ignore_index;
    o.label_smoothing = k.smoothing;
    const std::string shape = "N=" + std::to_string(k.n) + " C=" + std::to_string(k.c) +
                              " ignore " + std::to_string(k.ignore_index) + " smoothing " +
                              std::to_string(k.smoothing) + (k.weights ? " weighted" : "");
    std::vector<int64_t> t(size_t(k.n));
    Tensor tr = randint_cpu({k.n}, DType::i64, 0, k.c, seed++);
    for (int64_t i = 0; i < k.n; ++i)
      t[size_t(i)] =
          k.ignore_every && i % k.ignore_every == 0 ? k.ignore_index : tr.data<int64_t>()[i];
    Tensor target = Tensor::from_vector(t, {k.n});
    for (DType dt : kFloatDTypes) {
      const DType rd = ref_dtype(dt);
      const std::string what = label("cross_entropy", dt, shape);
      Tensor logits = uniform_cpu({k.n, k.c}, dt, -3, 3, seed++);
      Tensor w = k.weights ? uniform_cpu({k.c}, dt, 0.5, 2, seed++) : Tensor();
      Tensor w_ref = k.weights ? cast_cpu(w, rd) : Tensor();

      Tensor losses_ref = Tensor::empty({k.n}, rd), sum_ref = Tensor::empty({1}, rd),
             lse_ref = Tensor::empty({k.n}, rd);
      cpu().cross_entropy(cast_cpu(logits, rd), target, w_ref, o, losses_ref, sum_ref, lse_ref);
      Tensor losses = poisoned({k.n}, dt), wsum = poisoned({1}, dt), lse = poisoned({k.n}, dt);
      Tensor logits_d = to_gpu(logits), target_d = to_gpu(target);
      Tensor w_d = k.weights ? to_gpu(w) : Tensor();
      gpu().cross_entropy(logits_d, target_d, w_d, o, losses, wsum, lse);
      WHET_CHECK_CLOSE(what + " losses", losses, losses_ref, line_tol(dt, k.c));
      WHET_CHECK_CLOSE(what + " lse", lse, lse_ref, line_tol(dt, k.c));
      WHET_CHECK_CLOSE(what + " weight_sum", wsum, sum_ref, tolerance(dt));

      // Backward from the saved lse in the tensor's own dtype.
      Tensor lse_s = cast_cpu(lse_ref, dt);
      Tensor gl = uniform_cpu({k.n}, dt, -1, 1, seed++);
      Tensor g_ref = Tensor::empty({k.n, k.c}, rd);
      cpu().cross_entropy_backward(cast_cpu(logits, rd), target, w_ref, o, cast_cpu(lse_s, rd),
                                   cast_cpu(gl, rd), g_ref);
      Tensor g = poisoned({k.n, k.c}, dt);
      gpu().cross_entropy_backward(logits_d, target_d, w_d, o, to_gpu(lse_s), to_gpu(gl), g);
      WHET_CHECK_CLOSE(what + " backward", g, g_ref, line_tol(dt, k.c));
    }
  }
}
