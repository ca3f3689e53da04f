// Matrix products: matmul (batched, broadcasting) and linear.
#include "core/autocast.h"
#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

namespace {
// out (B, M, N) = op(a) @ op(b) on 3-D operands whose batch is B or 1.
Tensor mm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  int64_t batch = std::max(a.size(0), b.size(0));
  int64_t m = ta ? a.size(2) : a.size(1);
  int64_t n = tb ? b.size(1) : b.size(2);
  Tensor out = Tensor::empty({batch, m, n}, a.dtype(), a.device());
  kernel(a.device(), &Backend::matmul, "matmul")(a, b, ta, tb, out);
  return out;
}

Tensor broadcast_batch(const Tensor& x, const Shape& batch) {
  Shape full_shape = batch;
  full_shape.push_back(x.size(-2));
  full_shape.push_back(x.size(-1));
  Tensor e = x.shape() == full_shape ? x : zeros(full_shape, x.dtype(), x.device()) + x;
  return e.reshape({-1, x.size(-2), x.size(-1)});
}
}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  if (auto a = autocast_inputs(CastPolicy::lower_precision, {a_in, b_in}))
    return matmul((*a)[0], (*a)[1]);
  check_defined("matmul", a_in, "first operand");
  check_defined("matmul", b_in, "second operand");
  check_same_device("matmul", {a_in, b_in});
  check_same_dtype("matmul", {a_in, b_in});
  check_floating("matmul", a_in, "first operand");
  WHET_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both operands need at least 1 dim, "
             "got ", shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
  // 1-D operands become matrices and lose that dim again at the end, as torch.matmul does.
  Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  WHET_CHECK(a.size(-1) == b.size(-2), "matmul: shapes ", shape_str(a_in.shape()), " and ",
             shape_str(b_in.shape()), " cannot be multiplied (", a.size(-1), " != ",
             b.size(-2), ")");
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t m = a.size(-2), n = b.size(-1);
  Tensor a3 = numel(ba) == 1 ? a.reshape({1, m, a.size(-1)}) : broadcast_batch(a, batch);
  Tensor b3 = numel(bb) == 1 ? b.reshape({1, b.size(-2), n}) : broadcast_batch(b, batch);
  Tensor y3 = mm(a3.detach(), b3.detach(), false, false);
  Shape out = batch;
  if (a_in.dim() > 1) out.push_back(m);
  if (b_in.dim() > 1) out.push_back(n);
  Tensor y = y3.reshape(out);
  if (any_requires_grad({a3, b3})) {
    Tensor ad = a3.detach(), bd = b3.detach();
    Shape ys = y3.shape();
    record("matmul", {a3, b3}, y, [ad, bd, ys](const Tensor& g, const NeedsGrad& need) {
      Tensor g3 = g.reshape(ys);
      // dA = dY B^T, dB = A^T dY; a batch of 1 that was broadcast sums its gradient.
      Tensor ga, gb;
      if (need[0]) ga = sum_to(mm(g3, bd, false, true), ad.shape());
      if (need[1]) gb = sum_to(mm(ad, g3, true, false), bd.shape());
      return std::vector<Tensor>{ga, gb};
    });
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (auto a = autocast_inputs(CastPolicy::lower_precision, {x, w, b}))
    return linear((*a)[0], (*a)[1], (*a)[2]);
  check_defined("linear", x, "input");
  check_defined("linear", w, "weight");
  check_same_device("linear", {x, w, b});
  check_same_dtype("linear", {x, w, b});
  check_floating("linear", x, "input");
  check_rank("linear", w, 2, "weight");
  WHET_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", shape_str(x.shape()),
             " has ", x.dim() ? x.size(-1) : 0, " features but weight ", shape_str(w.shape()),
             " expects ", w.size(1));
  WHET_CHECK(!b.defined() || b.shape() == Shape{w.size(0)}, "linear: bias ",
             b.defined() ? shape_str(b.shape()) : "", " must have shape (", w.size(0), ",)");
  int64_t in = w.size(1), out = w.size(0);
  Tensor x2 = x.detach().reshape({1, -1, in});
  Tensor y3 = mm(x2, w.detach().reshape({1, out, in}), false, true);  // x W^T
  if (b.defined()) {
    Tensor yb = Tensor::empty(y3.shape(), y3.dtype(), y3.device());
    kernel(x.device(), &Backend::binary, "linear")(BinaryOp::add, y3, b, yb);
    y3 = yb;
  }
  Shape ys = x.shape();
  ys.back() = out;
  Tensor y = y3.reshape(ys);
  if (any_requires_grad({x, w, b})) {
    Tensor wd = w.detach(), xd = x2;
    Shape xs = x.shape();
    record("linear", {x, w, b}, y, [wd, xd, xs, in, out](const Tensor& g, const NeedsGrad& need) {
      Tensor g3 = g.reshape({1, -1, out});
      Tensor gx, gw, gb;
      if (need[0]) gx = mm(g3, wd.reshape({1, out, in}), false, false).reshape(xs);  // dY W
      if (need[1]) gw = mm(g3, xd, true, false).reshape({out, in});                  // dY^T X
      if (need[2]) gb = sum(g3, {0, 1});
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace whet
