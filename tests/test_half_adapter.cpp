// The CPU's half adapter (kernels/cpu/half_adapter.h): for every kernel family, a half input
// gives exactly the float32 kernel's result rounded once, as a GPU kernel that computes in
// float and stores half does.
#include <doctest/doctest.h>

#include "core/backend.h"
#include "core/ops.h"
#include "tests/half_test_util.h"

using namespace half_test;

// ---- the CPU half adapter: each kernel family, half in, equals float32 then one rounding ----

TEST_CASE("half adapter: elementwise, affine, binary and reduce kernels round once") {
  const Backend& cpu = cpu_backend();
  for (DType dt : kHalves) {
    Tensor x = rnd({37}, 1, -2.5, 2.5, dt), y0 = rnd({37}, 2, 0.1, 2, dt),
           gy = rnd({37}, 3, -1, 1, dt);
    for (int k = 0; k <= int(UnaryOp::gelu); ++k) {
      const UnaryOp op = UnaryOp(k);
      Tensor y = empty_as(x, dt), want = empty_as(x, DType::f32);
      cpu.unary(op, x, y);
      cpu.unary(op, wide(x), want);
      check_rounded(std::string("unary ") + unary_op_name(op), y, want);
      Tensor gx = empty_as(x, dt), gwant = empty_as(x, DType::f32);
      cpu.unary_backward(op, x, y0, gy, gx);
      cpu.unary_backward(op, wide(x), wide(y0), wide(gy), gwant);
      check_rounded(std::string("unary_backward ") + unary_op_name(op), gx, gwant);
    }
    Tensor out = empty_as(x, dt), want = empty_as(x, DType::f32);
    cpu.affine(x, 0.3, -1.0, out);
    cpu.affine(wide(x), 0.3, -1.0, want);
    check_rounded("affine", out, want);
    for (BinaryOp op : {BinaryOp::add, BinaryOp::mul, BinaryOp::div, BinaryOp::pow}) {
      cpu.binary(op, y0, x, out);
      cpu.binary(op, wide(y0), wide(x), want);
      check_rounded(binary_op_name(op), out, want);
    }
    Tensor m = rnd({3, 5, 4}, 4, -3, 3, dt);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max}) {
      Tensor r = Tensor::empty({3, 4}, dt), rw = Tensor::empty({3, 4});
      cpu.reduce(op, m, 3, 5, 4, r);
      cpu.reduce(op, wide(m), 3, 5, 4, rw);
      check_rounded(reduce_op_name(op), r, rw);
    }
  }
}

TEST_CASE("half adapter: matmul and conv2d with both backwards round once") {
  const Backend& cpu = cpu_backend();
  for (DType dt : kHalves) {
    Tensor a = rnd({2, 5, 7}, 1, -2, 2, dt), b = rnd({1, 3, 7}, 2, -2, 2, dt);
    Tensor mm = Tensor::empty({2, 5, 3}, dt), mmw = Tensor::empty({2, 5, 3});
    cpu.matmul(a, b, false, true, mm);
    cpu.matmul(wide(a), wide(b), false, true, mmw);
    check_rounded("matmul", mm, mmw);

    for (int groups : {1, 4}) {
      Conv2dOptions o;
      o.stride = 2;
      o.padding = 1;
      o.groups = groups;
      Tensor x = rnd({2, 7, 6, 4}, 3, -2, 2, dt), w = rnd({4, 3, 3, 4 / groups}, 4, -1, 1, dt);
      Tensor bias = rnd({4}, 5, -1, 1, dt);
      const Shape ys{2, 4, 3, 4};
      Tensor y = Tensor::empty(ys, dt), yw = Tensor::empty(ys);
      cpu.conv2d(x, w, bias, o, y);
      cpu.conv2d(wide(x), wide(w), wide(bias), o, yw);
      check_rounded("conv2d groups " + std::to_string(groups), y, yw);
      Tensor gy = rnd(ys, 6, -1, 1, dt);
      Tensor gx = empty_as(x, dt), gxw = empty_as(x, DType::f32);
      cpu.conv2d_backward_input(gy, w, o, gx);
      cpu.conv2d_backward_input(wide(gy), wide(w), o, gxw);
      check_rounded("conv2d_backward_input", gx, gxw);
      Tensor gw = empty_as(w, dt), gww = empty_as(w, DType::f32);
      cpu.conv2d_backward_weight(gy, x, o, gw);
      cpu.conv2d_backward_weight(wide(gy), wide(x), o, gww);
      check_rounded("conv2d_backward_weight", gw, gww);
    }
  }
}

TEST_CASE("half adapter: pooling kernels and their backwards round once") {
  const Backend& cpu = cpu_backend();
  for (DType dt : kHalves) {
    Tensor x = rnd({2, 5, 6, 3}, 1, -2, 2, dt);
    Pool2dOptions o;
    o.kernel_size = 3;
    o.stride = 2;
    o.padding = 1;
    const Shape ys{2, 3, 3, 3};
    Tensor y = Tensor::empty(ys, dt), yw = Tensor::empty(ys);
    Tensor idx = Tensor::empty(ys, DType::i64), idxw = Tensor::empty(ys, DType::i64);
    cpu.max_pool2d(x, o, y, idx);
    cpu.max_pool2d(wide(x), o, yw, idxw);
    check_rounded("max_pool2d", y, yw);
    CHECK(same_bits(idx, idxw));
    Tensor gy = rnd(ys, 2, -1, 1, dt);
    Tensor gx = empty_as(x, dt), gxw = empty_as(x, DType::f32);
    cpu.max_pool2d_backward(gy, idx, gx);
    cpu.max_pool2d_backward(wide(gy), idx, gxw);
    check_rounded("max_pool2d_backward", gx, gxw);

    cpu.avg_pool2d(x, o, y);
    cpu.avg_pool2d(wide(x), o, yw);
    check_rounded("avg_pool2d", y, yw);
    cpu.avg_pool2d_backward(gy, o, gx);
    cpu.avg_pool2d_backward(wide(gy), o, gxw);
    check_rounded("avg_pool2d_backward", gx, gxw);

    Tensor ay = Tensor::empty({2, 2, 4, 3}, dt), ayw = Tensor::empty({2, 2, 4, 3});
    cpu.adaptive_avg_pool2d(x, ay);
    cpu.adaptive_avg_pool2d(wide(x), ayw);
    check_rounded("adaptive_avg_pool2d", ay, ayw);
    Tensor agy = rnd({2, 2, 4, 3}, 3, -1, 1, dt);
    cpu.adaptive_avg_pool2d_backward(agy, gx);
    cpu.adaptive_avg_pool2d_backward(wide(agy), gxw);
    check_rounded("adaptive_avg_pool2d_backward", gx, gxw);
  }
}

TEST_CASE("half adapter: batch_norm takes a half input with float32 or half parameters") {
  const Backend& cpu = cpu_backend();
  for (DType dt : kHalves) {
    Tensor x = rnd({40, 3}, 1, -1, 4, dt);  // (M, C)
    Tensor w = rnd({3}, 2, 0.5, 2), b = rnd({3}, 3);
    for (bool training : {true, false}) {
      INFO("training " << training);
      Tensor rm = rnd({3}, 4), rv = rnd({3}, 5, 0.5, 2), rmw = rm.clone(), rvw = rv.clone();
      Tensor y = empty_as(x, dt), yw = empty_as(x, DType::f32);
      Tensor sm = zeros({3}), si = zeros({3}), smw = zeros({3}), siw = zeros({3});
      cpu.batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5, y, sm, si);
      cpu.batch_norm(wide(x), w, b, rmw, rvw, training, 0.1, 1e-5, yw, smw, siw);
      check_rounded("batch_norm", y, yw);
      CHECK(same_bits(sm, smw));
      CHECK(same_bits(si, siw));
      CHECK(same_bits(rm, rmw));
      CHECK(same_bits(rv, rvw));

      Tensor gy = rnd({40, 3}, 6, -1, 1, dt);
      Tensor gx = empty_as(x, dt), gxw = empty_as(x, DType::f32);
      Tensor gw = zeros({3}), gb = zeros({3}), gww = zeros({3}), gbw = zeros({3});
      cpu.batch_norm_backward(gy, x, w, sm, si, training, gx, gw, gb);
      cpu.batch_norm_backward(wide(gy), wide(x), w, sm, si, training, gxw, gww, gbw);
      check_rounded("batch_norm_backward", gx, gxw);
      CHECK(same_bits(gw, gww));
      CHECK(same_bits(gb, gbw));

      // All in half (the running statistics are read, updated and rounded back).
      Tensor rmh = rnd({3}, 4, -2, 2, dt), rvh = rnd({3}, 5, 0.5, 2, dt);
      Tensor rm32 = wide(rmh), rv32 = wide(rvh);
      Tensor smh = zeros({3}, dt), sih = zeros({3}, dt);
      cpu.batch_norm(x, w.to(dt), b.to(dt), rmh, rvh, training, 0.1, 1e-5, y, smh, sih);
      cpu.batch_norm(wide(x), wide(w.to(dt)), wide(b.to(dt)), rm32, rv32, training, 0.1, 1e-5, yw,
                     smw, siw);
      check_rounded("batch_norm, half parameters", y, yw);
      check_rounded("running_mean", rmh, rm32);
      check_rounded("running_var", rvh, rv32);
      check_rounded("save_invstd", sih, siw);
    }
  }
}

TEST_CASE("half adapter: softmax, cross_entropy and dropout round once") {
  const Backend& cpu = cpu_backend();
  for (DType dt : kHalves) {
    Tensor x = rnd({4, 6}, 1, -3, 3, dt);
    for (bool log : {false, true}) {
      Tensor y = empty_as(x, dt), yw = empty_as(x, DType::f32);
      cpu.softmax(x, 4, 6, 1, log, y);
      cpu.softmax(wide(x), 4, 6, 1, log, yw);
      check_rounded(log ? "log_softmax" : "softmax", y, yw);
      Tensor gy = rnd({4, 6}, 2, -1, 1, dt);
      Tensor gx = empty_as(x, dt), gxw = empty_as(x, DType::f32);
      cpu.softmax_backward(y, gy, 4, 6, 1, log, gx);
      cpu.softmax_backward(wide(y), wide(gy), 4, 6, 1, log, gxw);
      check_rounded("softmax_backward", gx, gxw);
    }
    Tensor target = Tensor::from_vector<int64_t>({0, 5, 2, 2}, {4});
    CrossEntropyOptions o;
    o.label_smoothing = 0.1;
    Tensor losses = Tensor::empty({4}, dt), ws = Tensor::empty({1}, dt),
           lse = Tensor::empty({4}, dt);
    Tensor lossesw = Tensor::empty({4}), wsw = Tensor::empty({1}), lsew = Tensor::empty({4});
    cpu.cross_entropy(x, target, Tensor(), o, losses, ws, lse);
    cpu.cross_entropy(wide(x), target, Tensor(), o, lossesw, wsw, lsew);
    check_rounded("cross_entropy losses", losses, lossesw);
    check_rounded("cross_entropy lse", lse, lsew);
    check_rounded("cross_entropy weight_sum", ws, wsw);
    Tensor gl = rnd({4}, 3, 0, 1, dt);
    Tensor glog = empty_as(x, dt), glogw = empty_as(x, DType::f32);
    cpu.cross_entropy_backward(x, target, Tensor(), o, lse, gl, glog);
    cpu.cross_entropy_backward(wide(x), target, Tensor(), o, wide(lse), wide(gl), glogw);
    check_rounded("cross_entropy_backward", glog, glogw);

    Tensor mask = Tensor::empty({50}, dt), maskw = Tensor::empty({50});
    cpu.dropout_mask(mask, 0.3, 9, 100);
    cpu.dropout_mask(maskw, 0.3, 9, 100);
    check_rounded("dropout_mask", mask, maskw);
  }
}
