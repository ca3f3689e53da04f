// Reductions and their gradients.
#include <algorithm>

#include "core/autocast.h"
#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

namespace {
// Sorted, unique, non-negative dims; empty means all.
std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t rank, const char* op) {
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) dims.push_back(d);
    return dims;
  }
  for (int64_t& d : dims) d = wrap_dim(d, rank, op);
  std::sort(dims.begin(), dims.end());
  WHET_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), op,
             ": a dim appears more than once");
  return dims;
}

Shape kept_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape k = s;
  for (int64_t d : dims) k[size_t(d)] = 1;
  return k;
}

Shape dropped_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!std::binary_search(dims.begin(), dims.end(), int64_t(i))) out.push_back(s[i]);
  return out;
}

// Runs the kernel over each maximal run of adjacent reduced dims (NHWC's N,H,W is one pass).
Tensor reduce_raw(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims) {
  const char* name = reduce_op_name(op);
  Tensor cur = x;
  Shape s = x.shape();
  for (size_t i = dims.size(); i-- > 0;) {
    size_t hi = size_t(dims[i]), lo = hi;
    while (i > 0 && size_t(dims[i - 1]) == lo - 1) --i, --lo;
    int64_t outer = 1, r = 1, inner = 1;
    for (size_t d = 0; d < s.size(); ++d) {
      if (d < lo) outer *= s[d];
      else if (d <= hi) r *= s[d];
      else inner *= s[d];
    }
    for (size_t d = lo; d <= hi; ++d) s[d] = 1;
    WHET_CHECK(r > 0 || op == ReduceOp::sum || op == ReduceOp::mean, name,
               ": cannot reduce over an empty dimension of ", shape_str(x.shape()));
    Tensor out = Tensor::empty(s, cur.dtype(), cur.device());
    kernel(x.device(), &Backend::reduce, name)(op, cur, outer, r, inner, out);
    cur = out;
  }
  return cur;
}

Tensor broadcast_to(const Tensor& g, const Shape& s) { return zeros(s, g.dtype(), g.device()) + g; }

Tensor reduction(ReduceOp op, const Tensor& x, std::vector<int64_t> dims_in, bool keepdim) {
  const char* name = reduce_op_name(op);
  check_defined(name, x, "input");
  std::vector<int64_t> dims = normalize_dims(std::move(dims_in), x.dim(), name);
  Tensor kept = reduce_raw(op, x, dims);
  Shape out_shape = keepdim ? kept.shape() : dropped_shape(x.shape(), dims);
  Tensor y(kept.detach().reshape(out_shape));
  if (any_requires_grad({x})) {
    Shape xs = x.shape(), ks = kept.shape();
    int64_t count = 1;
    for (int64_t d : dims) count *= xs[size_t(d)];
    Tensor xd = x.detach(), kd = kept.detach();
    record(name, {x}, y, [op, xs, ks, count, xd, kd](const Tensor& g, const NeedsGrad&) {
      Tensor gk = g.reshape(ks);
      if (op == ReduceOp::sum) return std::vector<Tensor>{broadcast_to(gk, xs)};
      if (op == ReduceOp::mean) return std::vector<Tensor>{broadcast_to(gk / double(count), xs)};
      // amax/amin: the gradient goes to every extremum, shared evenly among ties.
      Tensor hit = cast(eq(xd, kd), g.dtype());
      Tensor n_hit = reduce_raw(ReduceOp::sum, hit, [&] {
        std::vector<int64_t> all;
        for (size_t d = 0; d < xs.size(); ++d) if (ks[d] == 1 && xs[d] != 1) all.push_back(int64_t(d));
        return all;
      }());
      return std::vector<Tensor>{hit * (gk / n_hit)};
    });
  }
  return y;
}

Tensor arg_reduction(ReduceOp op, const Tensor& x, int64_t dim, bool keepdim) {
  const char* name = reduce_op_name(op);
  check_defined(name, x, "input");
  dim = wrap_dim(dim, x.dim(), name);
  Shape s = x.shape();
  WHET_CHECK(x.dim() == 0 || s[size_t(dim)] > 0, name, ": empty dimension ", dim, " in ",
             shape_str(s));
  int64_t outer = 1, r = x.dim() ? s[size_t(dim)] : 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= s[size_t(d)];
    else if (d > dim) inner *= s[size_t(d)];
  }
  Shape out_shape = x.dim() ? kept_shape(s, {dim}) : Shape{};
  Tensor out = Tensor::empty(out_shape, DType::i64, x.device());
  kernel(x.device(), &Backend::reduce, name)(op, x, outer, r, inner, out);
  return keepdim || x.dim() == 0 ? out : out.reshape(dropped_shape(s, {dim}));
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x}))
    return sum((*a)[0], std::move(dims), keepdim);
  return reduction(ReduceOp::sum, x, std::move(dims), keepdim);
}
Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x}))
    return mean((*a)[0], std::move(dims), keepdim);
  check_defined("mean", x, "input");
  check_floating("mean", x, "input");
  return reduction(ReduceOp::mean, x, std::move(dims), keepdim);
}
Tensor amax(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduction(ReduceOp::max, x, std::move(dims), keepdim);
}
Tensor amin(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduction(ReduceOp::min, x, std::move(dims), keepdim);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduction(ReduceOp::argmax, x, dim, keepdim);
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduction(ReduceOp::argmin, x, dim, keepdim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  size_t lead = x.shape().size() - shape.size();
  WHET_CHECK(x.shape().size() >= shape.size(), "sum_to: cannot sum ", shape_str(x.shape()),
             " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (size_t d = 0; d < x.shape().size(); ++d) {
    if (d < lead) dims.push_back(int64_t(d));
    else if (shape[d - lead] == 1 && x.shape()[d] != 1) dims.push_back(int64_t(d));
    else WHET_CHECK(shape[d - lead] == x.shape()[d], "sum_to: cannot sum ", shape_str(x.shape()),
                    " to ", shape_str(shape));
  }
  return dims.empty() ? x.reshape(shape) : sum(x, dims, true).reshape(shape);
}

}  // namespace whet
