// One cuDNN convolution call as kernels/cuda/conv*.cu see it: its direction, its checked
// arguments, and the Problem that keys the algorithm cache. Internal to the conv files.
#pragma once
#include <cstdint>
#include <string>
#include <tuple>

#include "core/backend.h"

namespace whet::cuda::conv_detail {

enum class Direction : uint8_t { forward, backward_data, backward_filter };
enum class Layout : uint8_t { nhwc, nchw };

// The op's name in messages: conv2d, conv2d_backward_input or conv2d_backward_weight.
const char* op_name(Direction d);

// x (N, H, W, C), w (O, KH, KW, C/groups), y (N, OH, OW, O) and bias (O) or undefined, named
// by their roles in direction `dir`; throws whet::Error naming what is wrong.
void check_args(Direction dir, const Tensor& x, const Tensor& w, const Tensor& y,
                const Tensor& bias, const Conv2dOptions& o);

// One convolution as cuDNN sees it, and the key of the algorithm cache: everything that can
// change cuDNN's choice.
struct Problem {
  Direction dir;
  DType dtype;
  bool tf32;  // float32 only: allow_tf32() when the problem was posed
  int device;
  int align;          // the largest power of two, at most 16, dividing every buffer address
  int n, h, w, c;     // x (N, H, W, C)
  int o, kh, kw, cg;  // w (O, KH, KW, C/groups)
  int oh, ow;         // y (N, OH, OW, O)
  int sh, sw, ph, pw, dh, dw, groups;

  auto key() const {
    return std::tie(dir, dtype, tf32, device, align, n, h, w, c, o, kh, kw, cg, oh, ow, sh, sw, ph,
                    pw, dh, dw, groups);
  }
  bool operator<(const Problem& q) const { return key() < q.key(); }
};

// The problem of checked arguments (check_args first).
Problem make_problem(Direction dir, const Tensor& x, const Tensor& w, const Tensor& y,
                     const Conv2dOptions& o);

// The problem in words, for error messages.
std::string describe(const Problem& p);

}  // namespace whet::cuda::conv_detail
