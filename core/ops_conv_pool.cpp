// Convolution and pooling over NHWC (torch.nn.functional.conv2d, max_pool2d, avg_pool2d,
// adaptive_avg_pool2d), each with its backward right below its forward.
#include "core/autocast.h"
#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

namespace {

std::string hw(int64_t h, int64_t w) { return detail::cat(h, "x", w); }

// (N, H, W, C) input checks shared by the pooling ops.
void check_pool_input(const char* op, const Tensor& x) {
  check_defined(op, x, "input");
  check_rank(op, x, 4, "input (N, H, W, C)");
  check_floating(op, x, "input");
  WHET_CHECK(x.size(1) >= 1 && x.size(2) >= 1, op, ": input ", shape_str(x.shape()),
             " has an empty spatial extent");
}

// Window options shared by max_pool2d and avg_pool2d, with PyTorch's limits.
void check_pool_options(const char* op, const Tensor& x, const Pool2dOptions& o) {
  const Int2 k = o.kernel_size, s = o.stride, p = o.padding, d = o.dilation;
  WHET_CHECK(k.h >= 1 && k.w >= 1, op, ": kernel_size must be >= 1, got ", hw(k.h, k.w));
  WHET_CHECK(s.h >= 0 && s.w >= 0, op, ": stride must be >= 1 (or 0 for the kernel size), got ",
             hw(s.h, s.w));
  WHET_CHECK(d.h >= 1 && d.w >= 1, op, ": dilation must be >= 1, got ", hw(d.h, d.w));
  WHET_CHECK(p.h >= 0 && p.w >= 0, op, ": padding must be >= 0, got ", hw(p.h, p.w));
  WHET_CHECK(p.h <= k.h / 2 && p.w <= k.w / 2, op, ": padding ", hw(p.h, p.w),
             " must be at most half the kernel size ", hw(k.h, k.w));
  const Int2 st = o.effective_stride();
  const int64_t oh = conv_out_size(x.size(1), k.h, st.h, p.h, d.h, o.ceil_mode);
  const int64_t ow = conv_out_size(x.size(2), k.w, st.w, p.w, d.w, o.ceil_mode);
  WHET_CHECK(oh >= 1 && ow >= 1, op, ": output size ", hw(oh, ow), " is too small: input ",
             shape_str(x.shape()), ", kernel ", hw(k.h, k.w), ", stride ", hw(st.h, st.w),
             ", padding ", hw(p.h, p.w), ", dilation ", hw(d.h, d.w));
}

// The options as kernels see them: stride resolved (0 means the kernel size).
Pool2dOptions resolved(const Pool2dOptions& o) {
  Pool2dOptions r = o;
  r.stride = o.effective_stride();
  return r;
}

}  // namespace

int64_t conv_out_size(int64_t in, int kernel, int stride, int pad, int dilation, bool ceil_mode) {
  WHET_CHECK(kernel >= 1 && stride >= 1 && dilation >= 1 && pad >= 0,
             "conv_out_size: need kernel, stride, dilation >= 1 and pad >= 0, got kernel ", kernel,
             ", stride ", stride, ", dilation ", dilation, ", pad ", pad);
  // PyTorch's pooling_output_shape: floor division (toward -inf), and in ceil mode the last
  // window must start inside the input or its left padding.
  const int64_t span =
      in + 2 * int64_t(pad) - int64_t(dilation) * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  const int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  int64_t out = q + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// ---- conv2d ----

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  if (auto a = autocast_inputs(CastPolicy::lower_precision, {x, w, b}))
    return conv2d((*a)[0], (*a)[1], (*a)[2], o);
  const char* op = "conv2d";
  check_defined(op, x, "input");
  check_defined(op, w, "weight");
  check_rank(op, x, 4, "input (N, H, W, C)");
  check_rank(op, w, 4, "weight (O, KH, KW, C/groups)");
  check_floating(op, x, "input");
  check_same_device(op, {x, w, b});
  check_same_dtype(op, {x, w, b});
  const Int2 s = o.stride, p = o.padding, d = o.dilation;
  WHET_CHECK(s.h >= 1 && s.w >= 1, op, ": stride must be >= 1, got ", hw(s.h, s.w));
  WHET_CHECK(d.h >= 1 && d.w >= 1, op, ": dilation must be >= 1, got ", hw(d.h, d.w));
  WHET_CHECK(p.h >= 0 && p.w >= 0, op, ": padding must be >= 0, got ", hw(p.h, p.w));
  WHET_CHECK(o.groups >= 1, op, ": groups must be >= 1, got ", o.groups);
  const int64_t c = x.size(3), out_c = w.size(0), kh = w.size(1), kw = w.size(2);
  WHET_CHECK(kh >= 1 && kw >= 1 && out_c >= 1, op, ": weight ", shape_str(w.shape()),
             " has an empty extent");
  WHET_CHECK(c % o.groups == 0, op, ": input ", shape_str(x.shape()), " has ", c,
             " channels, not divisible by groups ", o.groups);
  WHET_CHECK(out_c % o.groups == 0, op, ": weight ", shape_str(w.shape()), " has ", out_c,
             " output channels, not divisible by groups ", o.groups);
  WHET_CHECK(w.size(3) == c / o.groups, op, ": weight ", shape_str(w.shape()), " expects ",
             w.size(3), " channels per group, but input ", shape_str(x.shape()), " with groups ",
             o.groups, " has ", c / o.groups, " (weight is (O, KH, KW, C/groups), NHWC)");
  if (b.defined())
    WHET_CHECK(b.shape() == Shape{out_c}, op, ": bias ", shape_str(b.shape()), " must have shape (",
               out_c, ",) to match weight ", shape_str(w.shape()));
  const int64_t oh = conv_out_size(x.size(1), int(kh), s.h, p.h, d.h);
  const int64_t ow = conv_out_size(x.size(2), int(kw), s.w, p.w, d.w);
  WHET_CHECK(oh >= 1 && ow >= 1, op, ": output size ", hw(oh, ow), " is too small: input ",
             shape_str(x.shape()), ", kernel ", hw(kh, kw), ", stride ", hw(s.h, s.w), ", padding ",
             hw(p.h, p.w), ", dilation ", hw(d.h, d.w));
  Tensor y = Tensor::empty({x.size(0), oh, ow, out_c}, x.dtype(), x.device());  // (N, OH, OW, O)
  kernel(x.device(), &Backend::conv2d, op)(x, w, b, o, y);
  // gx = conv_transpose(gy, w), gw = gy^T @ im2col(x), gb = sum of gy over (N, OH, OW).
  // Each saved tensor serves only the other input's gradient: a frozen weight keeps no
  // activation alive, an input that needs no gradient keeps no weight.
  const Shape xs = x.shape(), ws = w.shape();
  Tensor x_saved = w.requires_grad() ? x.detach() : Tensor();
  Tensor w_saved = x.requires_grad() ? w.detach() : Tensor();
  record(op, {x, w, b}, y, [x_saved, w_saved, xs, ws, o](const Tensor& gy, const NeedsGrad& need) {
    Tensor gx, gw, gb;
    if (need[0]) {
      gx = Tensor::empty(xs, gy.dtype(), gy.device());
      kernel(gy.device(), &Backend::conv2d_backward_input, "conv2d backward")(gy, w_saved, o, gx);
    }
    if (need[1]) {
      gw = Tensor::empty(ws, gy.dtype(), gy.device());
      kernel(gy.device(), &Backend::conv2d_backward_weight, "conv2d backward")(gy, x_saved, o, gw);
    }
    if (need[2]) gb = sum(gy, {0, 1, 2});
    return std::vector<Tensor>{gx, gw, gb};
  });
  return y;
}

// ---- max_pool2d ----

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  const char* op = "max_pool2d";
  check_pool_input(op, x);
  check_pool_options(op, x, o);
  const Pool2dOptions r = resolved(o);
  const Int2 k = r.kernel_size, s = r.stride, p = r.padding, d = r.dilation;
  const int64_t oh = conv_out_size(x.size(1), k.h, s.h, p.h, d.h, r.ceil_mode);
  const int64_t ow = conv_out_size(x.size(2), k.w, s.w, p.w, d.w, r.ceil_mode);
  const Shape ys{x.size(0), oh, ow, x.size(3)};
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());         // (N, OH, OW, C)
  Tensor indices = Tensor::empty(ys, DType::i64, x.device());  // (N, OH, OW, C)
  kernel(x.device(), &Backend::max_pool2d, op)(x, r, y, indices);
  // gx[argmax] += gy: each output routes its gradient to the input position that won.
  const Shape xs = x.shape();
  record(op, {x}, y, [indices, xs](const Tensor& gy, const NeedsGrad&) {
    Tensor gx = Tensor::empty(xs, gy.dtype(), gy.device());
    kernel(gy.device(), &Backend::max_pool2d_backward, "max_pool2d backward")(gy, indices, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

// ---- avg_pool2d ----

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) {
  const char* op = "avg_pool2d";
  check_pool_input(op, x);
  WHET_CHECK(o.dilation == Int2(1), op,
             ": dilation must be 1 (PyTorch's avg_pool2d has none), got ",
             hw(o.dilation.h, o.dilation.w));
  check_pool_options(op, x, o);
  const Pool2dOptions r = resolved(o);
  const Int2 k = r.kernel_size, s = r.stride, p = r.padding;
  const int64_t oh = conv_out_size(x.size(1), k.h, s.h, p.h, 1, r.ceil_mode);
  const int64_t ow = conv_out_size(x.size(2), k.w, s.w, p.w, 1, r.ceil_mode);
  Tensor y =
      Tensor::empty({x.size(0), oh, ow, x.size(3)}, x.dtype(), x.device());  // (N, OH, OW, C)
  kernel(x.device(), &Backend::avg_pool2d, op)(x, r, y);
  // gx = each output's gradient spread over its window, divided by the forward's divisor.
  const Shape xs = x.shape();
  record(op, {x}, y, [r, xs](const Tensor& gy, const NeedsGrad&) {
    Tensor gx = Tensor::empty(xs, gy.dtype(), gy.device());
    kernel(gy.device(), &Backend::avg_pool2d_backward, "avg_pool2d backward")(gy, r, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

// ---- adaptive_avg_pool2d ----

Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_pool_input(op, x);
  WHET_CHECK(output_size.h >= 1 && output_size.w >= 1, op, ": output_size must be >= 1, got ",
             hw(output_size.h, output_size.w), " for input ", shape_str(x.shape()));
  const Shape ys{x.size(0), output_size.h, output_size.w, x.size(3)};
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());  // (N, OH, OW, C)
  kernel(x.device(), &Backend::adaptive_avg_pool2d, op)(x, y);
  // gx = each output's gradient spread evenly over its bin.
  const Shape xs = x.shape();
  record(op, {x}, y, [xs](const Tensor& gy, const NeedsGrad&) {
    Tensor gx = Tensor::empty(xs, gy.dtype(), gy.device());
    const char* name = "adaptive_avg_pool2d backward";
    kernel(gy.device(), &Backend::adaptive_avg_pool2d_backward, name)(gy, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace whet
