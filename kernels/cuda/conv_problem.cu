// Argument checks and problem keys for cuDNN convolutions (kernels/cuda/conv_problem.cuh).
#ifdef WHET_WITH_CUDNN

#include "kernels/cuda/conv_problem.cuh"

#include <climits>
#include <cstdint>

#include "core/math_mode.h"

namespace whet::cuda::conv_detail {

const char* op_name(Direction d) {
  switch (d) {
    case Direction::forward:
      return "conv2d";
    case Direction::backward_data:
      return "conv2d_backward_input";
    case Direction::backward_filter:
      return "conv2d_backward_weight";
  }
  return "conv2d";
}

namespace {

// What the three tensors are called in each direction's messages.
struct Roles {
  const char *x, *w, *y;
};
Roles roles(Direction d) {
  switch (d) {
    case Direction::forward:
      return {"input", "weight", "output"};
    case Direction::backward_data:
      return {"grad_input", "weight", "grad_output"};
    case Direction::backward_filter:
      return {"input", "grad_weight", "grad_output"};
  }
  return {"x", "w", "y"};
}

std::string hw(Int2 v) { return detail::cat(v.h, "x", v.w); }

// PyTorch's output extent, 0 when the dilated kernel does not fit the padded input.
int64_t out_extent(int64_t in, int64_t k, int stride, int pad, int dilation) {
  const int64_t span = in + 2 * int64_t(pad) - int64_t(dilation) * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

int alignment(const void* a, const void* b, const void* c) {
  const uintptr_t bits = uintptr_t(16) | reinterpret_cast<uintptr_t>(a) |
                         reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c);
  return int(bits & (~bits + 1));  // the lowest set bit
}

}  // namespace

// x (N, H, W, C), w (O, KH, KW, C/groups), y (N, OH, OW, O) and bias (O) or undefined, named
// by their roles in direction `dir`.
void check_args(Direction dir, const Tensor& x, const Tensor& w, const Tensor& y,
                const Tensor& bias, const Conv2dOptions& o) {
  const char* op = op_name(dir);
  const Roles r = roles(dir);
  WHET_CHECK(x.defined() && w.defined() && y.defined(), op, ": ", r.x, ", ", r.w, " and ", r.y,
             " must all be defined");
  const DType dt = x.dtype();
  WHET_CHECK(w.dtype() == dt && y.dtype() == dt && (!bias.defined() || bias.dtype() == dt), op,
             ": dtype mismatch (", r.x, " ", dtype_name(dt), ", ", r.w, " ", dtype_name(w.dtype()),
             ", ", r.y, " ", dtype_name(y.dtype()), bias.defined() ? ", bias " : "",
             bias.defined() ? dtype_name(bias.dtype()) : "", ")");
  WHET_CHECK(is_floating(dt), op, ": dtype ", dtype_name(dt),
             " is not supported on CUDA (floating types only)");
  const Device dev = y.device();
  WHET_CHECK(dev.is_cuda() && x.device() == dev && w.device() == dev &&
                 (!bias.defined() || bias.device() == dev),
             op, ": ", r.x, " (", x.device().str(), "), ", r.w, " (", w.device().str(), "), ", r.y,
             " (", dev.str(), ")", bias.defined() ? " and bias (" + bias.device().str() + ")" : "",
             " must be on one CUDA device");
  WHET_CHECK(x.dim() == 4 && w.dim() == 4 && y.dim() == 4, op, ": ", r.x, " ", shape_str(x.shape()),
             ", ", r.w, " ", shape_str(w.shape()), " and ", r.y, " ", shape_str(y.shape()),
             " must be 4-D: (N, H, W, C), (O, KH, KW, C/groups) and (N, OH, OW, O)");
  WHET_CHECK(o.stride.h >= 1 && o.stride.w >= 1 && o.dilation.h >= 1 && o.dilation.w >= 1 &&
                 o.padding.h >= 0 && o.padding.w >= 0 && o.groups >= 1,
             op, ": invalid options: stride ", hw(o.stride), ", padding ", hw(o.padding),
             ", dilation ", hw(o.dilation), ", groups ", o.groups);
  const int64_t c = x.size(3), oc = w.size(0), kh = w.size(1), kw = w.size(2);
  const Shape expected{x.size(0), out_extent(x.size(1), kh, o.stride.h, o.padding.h, o.dilation.h),
                       out_extent(x.size(2), kw, o.stride.w, o.padding.w, o.dilation.w), oc};
  const bool weight_ok = kh >= 1 && kw >= 1 && oc % o.groups == 0 && w.size(3) * o.groups == c;
  WHET_CHECK(weight_ok && expected[1] >= 1 && expected[2] >= 1 && y.shape() == expected, op, ": ",
             r.x, " ", shape_str(x.shape()), ", ", r.w, " ", shape_str(w.shape()), " and ", r.y,
             " ", shape_str(y.shape()), " do not form a convolution with stride ", hw(o.stride),
             ", padding ", hw(o.padding), ", dilation ", hw(o.dilation), ", groups ", o.groups,
             " (", r.w, " must be (O, KH, KW, C/groups) with O divisible by groups; ", r.y,
             " would be ", shape_str(expected), ")");
  if (bias.defined())
    WHET_CHECK(bias.shape() == Shape{oc}, op, ": bias ", shape_str(bias.shape()),
               " must have shape (", oc, ",) to match ", r.w, " ", shape_str(w.shape()));
  WHET_CHECK(x.numel() <= INT_MAX && w.numel() <= INT_MAX && y.numel() <= INT_MAX, op, ": ", r.x,
             " ", shape_str(x.shape()), ", ", r.w, " ", shape_str(w.shape()), " or ", r.y, " ",
             shape_str(y.shape()), " has more elements than cuDNN's int extents allow");
}

Problem make_problem(Direction dir, const Tensor& x, const Tensor& w, const Tensor& y,
                     const Conv2dOptions& o) {
  Problem p;
  p.dir = dir;
  p.dtype = x.dtype();
  p.tf32 = p.dtype == DType::f32 && allow_tf32();
  p.device = y.device().index;
  p.align = alignment(x.raw_data(), w.raw_data(), y.raw_data());
  p.n = int(x.size(0)), p.h = int(x.size(1)), p.w = int(x.size(2)), p.c = int(x.size(3));
  p.o = int(w.size(0)), p.kh = int(w.size(1)), p.kw = int(w.size(2)), p.cg = int(w.size(3));
  p.oh = int(y.size(1)), p.ow = int(y.size(2));
  p.sh = o.stride.h, p.sw = o.stride.w, p.ph = o.padding.h, p.pw = o.padding.w;
  p.dh = o.dilation.h, p.dw = o.dilation.w, p.groups = o.groups;
  return p;
}

std::string describe(const Problem& p) {
  const Roles r = roles(p.dir);
  return detail::cat(r.x, " (", p.n, ", ", p.h, ", ", p.w, ", ", p.c, "), ", r.w, " (", p.o, ", ",
                     p.kh, ", ", p.kw, ", ", p.cg, "), ", r.y, " (", p.n, ", ", p.oh, ", ", p.ow,
                     ", ", p.o, "), stride ", p.sh, "x", p.sw, ", padding ", p.ph, "x", p.pw,
                     ", dilation ", p.dh, "x", p.dw, ", groups ", p.groups, ", ",
                     dtype_name(p.dtype), p.tf32 ? " (TF32 allowed)" : "");
}

}  // namespace whet::cuda::conv_detail

#endif  // WHET_WITH_CUDNN
