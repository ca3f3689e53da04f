// Ops that move elements: permutation, concatenation, narrowing, dtype and device changes.
#include <numeric>

#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

Tensor reshape(const Tensor& x, const Shape& s) {
  check_defined("reshape", x, "input");
  return x.reshape(s);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm_in) {
  check_defined("permute", x, "input");
  WHET_CHECK(int64_t(perm_in.size()) == x.dim(), "permute: ", perm_in.size(),
             " dims given for a ", x.dim(), "-D tensor of shape ", shape_str(x.shape()));
  std::vector<int64_t> perm(perm_in.size()), inverse(perm_in.size(), -1);
  Shape s(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    perm[i] = wrap_dim(perm_in[i], x.dim(), "permute");
    WHET_CHECK(inverse[size_t(perm[i])] < 0, "permute: dim ", perm[i], " repeated");
    inverse[size_t(perm[i])] = int64_t(i);
    s[i] = x.shape()[size_t(perm[i])];
  }
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  kernel(x.device(), &Backend::permute, "permute")(x, perm, y);
  record("permute", {x}, y, [inverse](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
  return y;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  check_defined("transpose", x, "input");
  std::vector<int64_t> perm(size_t(x.dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[size_t(wrap_dim(d0, x.dim(), "transpose"))],
            perm[size_t(wrap_dim(d1, x.dim(), "transpose"))]);
  return permute(x, perm);
}

namespace {
// x viewed as (outer, extent * inner) around `dim`.
int64_t outer_of(const Shape& s, int64_t dim) {
  int64_t o = 1;
  for (int64_t d = 0; d < dim; ++d) o *= s[size_t(d)];
  return o;
}
int64_t inner_of(const Shape& s, int64_t dim) {
  int64_t i = 1;
  for (size_t d = size_t(dim) + 1; d < s.size(); ++d) i *= s[d];
  return i;
}

// y = columns [col, col + width) of x viewed as (outer, row)
Tensor extract(const Tensor& x, const Shape& out_shape, int64_t outer, int64_t row,
               int64_t col, int64_t width) {
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  kernel(x.device(), &Backend::extract_block, "narrow")(x, outer, row, y, width, col);
  return y;
}
}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  WHET_CHECK(!xs.empty(), "concat: no tensors given");
  for (const Tensor& t : xs) check_defined("concat", t, "an input");
  const Tensor& first = xs[0];
  dim = wrap_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[size_t(dim)] = 0;
  for (const Tensor& t : xs) {
    WHET_CHECK(t.dim() == first.dim(), "concat: tensors of rank ", first.dim(), " and ", t.dim());
    WHET_CHECK(t.dtype() == first.dtype(), "concat: dtype mismatch (", dtype_name(first.dtype()),
               " and ", dtype_name(t.dtype()), ")");
    WHET_CHECK(t.device() == first.device(), "concat: tensors on ", first.device().str(),
               " and ", t.device().str());
    for (int64_t d = 0; d < t.dim(); ++d)
      WHET_CHECK(d == dim || t.size(d) == first.size(d), "concat: shapes ",
                 shape_str(first.shape()), " and ", shape_str(t.shape()),
                 " differ outside dim ", dim);
    out_shape[size_t(dim)] += t.size(dim);
  }
  int64_t outer = outer_of(out_shape, dim), inner = inner_of(out_shape, dim);
  int64_t out_row = out_shape[size_t(dim)] * inner;
  Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> cols;
  int64_t col = 0;
  for (const Tensor& t : xs) {
    cols.push_back(col);
    kernel(y.device(), &Backend::copy_block, "concat")(t, outer, t.size(dim) * inner, y, out_row,
                                                       col);
    col += t.size(dim) * inner;
  }
  std::vector<Shape> shapes;
  for (const Tensor& t : xs) shapes.push_back(t.shape());
  record("concat", xs, y, [shapes, cols, outer, out_row, dim, inner](const Tensor& g,
                                                                     const NeedsGrad& need) {
    std::vector<Tensor> gs(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i)
      if (need[i]) gs[i] = extract(g, shapes[i], outer, out_row, cols[i], shapes[i][size_t(dim)] * inner);
    return gs;
  });
  return y;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  WHET_CHECK(!xs.empty(), "stack: no tensors given");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (const Tensor& t : xs) {
    check_defined("stack", t, "an input");
    WHET_CHECK(t.shape() == xs[0].shape(), "stack: shapes ", shape_str(xs[0].shape()), " and ",
               shape_str(t.shape()), " differ");
    us.push_back(t.unsqueeze(dim));
  }
  return concat(us, dim);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  check_defined("narrow", x, "input");
  dim = wrap_dim(dim, x.dim(), "narrow");
  int64_t extent = x.size(dim);
  WHET_CHECK(start >= 0 && length >= 0 && start + length <= extent, "narrow: [", start, ", ",
             start + length, ") out of range for dim ", dim, " of size ", extent);
  if (dim == 0) return x.slice(start, start + length);
  Shape s = x.shape();
  s[size_t(dim)] = length;
  int64_t outer = outer_of(s, dim), inner = inner_of(s, dim);
  Tensor y = extract(x, s, outer, extent * inner, start * inner, length * inner);
  Shape xs = x.shape();
  record("narrow", {x}, y, [xs, outer, extent, inner, start, length](const Tensor& g,
                                                                     const NeedsGrad&) {
    Tensor gx = zeros(xs, g.dtype(), g.device());
    kernel(g.device(), &Backend::copy_block, "narrow")(g, outer, length * inner, gx,
                                                       extent * inner, start * inner);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor cast(const Tensor& x, DType dt) {
  check_defined("cast", x, "input");
  Tensor y = Tensor::empty(x.shape(), dt, x.device());
  kernel(x.device(), &Backend::copy, "cast")(x, y);
  if (is_floating(dt)) {
    DType from = x.dtype();
    record("cast", {x}, y, [from](const Tensor& g, const NeedsGrad&) {
      return std::vector<Tensor>{cast(g, from)};
    });
  }
  return y;
}

Tensor to_device(const Tensor& x, Device d) {
  check_defined("to_device", x, "input");
  if (x.device() == d) return x;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), d);
  // The CUDA backend owns every copy that touches a device; the CPU one only host copies.
  Device owner = d.is_cuda() ? d : x.device();
  kernel(owner, &Backend::copy, "to_device")(x, y);
  Device from = x.device();
  record("to_device", {x}, y, [from](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{to_device(g, from)};
  });
  return y;
}

}  // namespace whet
