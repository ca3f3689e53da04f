// NHWC 2-D convolution through cuDNN's convolution API (forward, backward data, backward
// filter), the CUDA twin of kernels/cpu/conv.cpp.
//
// Layout. whet's activations (N, H, W, C) and weights (O, KH, KW, C/groups) are exactly
// cuDNN's NHWC tensor and NHWC filter formats, so f32, f16 and bf16 run on whet's buffers as
// they are. float64 goes through NCHW copies: cuDNN's NHWC kernels cover the half and float
// configurations, not double (PyTorch sends float64 to NCHW for the same reason), and float64
// serves gradient checks, not speed. A problem for which no NHWC algorithm runs takes the
// same NCHW route rather than failing.
//
// Algorithms. The first call of a problem (direction, dtype, math mode, extents, options,
// buffer alignment) asks cuDNN's heuristics (cudnnGet*Algorithm_v7) for their ranking, puts
// the deterministic algorithms first, drops those whose workspace is more than the device
// can spare, and runs the rest in turn until one succeeds (the heuristics sometimes rank an
// algorithm that then reports NOT_SUPPORTED). The winner is cached for the process and later
// calls run it directly. Workspaces come from the caching allocator: stream-ordered, reused.
//
// Math. f32 pins cuDNN to FMA math (no TF32) unless allow_tf32() is set; f16/bf16 may use
// tensor cores and accumulate in float; f64 computes in double. Scaling factors are double
// for double tensors and float otherwise (cuDNN's rule).
#ifdef WHET_WITH_CUDNN  // without cuDNN the conv slots stay empty (kernels/cuda/backend.cu)

#include "kernels/cuda/conv.cuh"

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/math_mode.h"
#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cudnn_check.cuh"
#include "kernels/cuda/cudnn_handle.cuh"

namespace whet::cuda {

// out (B, C, R) = in (B, R, C), each batch entry transposed: the NHWC <-> NCHW copies of the
// NCHW route. Elements move as raw bits of their size. Writes are coalesced and reads
// strided; the route serves float64 and fallbacks, where a plain kernel is enough.
template <class T>
static __global__ void transpose_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t r,
                                        int64_t c, int64_t total) {
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const int64_t ri = i % r, rest = i / r;
    const int64_t ci = rest % c, bi = rest / c;
    out[i] = in[(bi * r + ri) * c + ci];
  }
}

// y (M, O) += bias (O), in the compute type (float for the half types).
template <class T>
static __global__ void add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t o,
                                       int64_t total) {
  using C = compute_t<T>;
  for (int64_t i = thread_index(); i < total; i += thread_count())
    y[i] = cast_to<T>(cast_to<C>(y[i]) + cast_to<C>(bias[i % o]));
}

template <class T>
static void launch_transpose(const void* in, void* out, int64_t r, int64_t c, int64_t total,
                             const Context& ctx) {
  transpose_kernel<<<grid_for(total, ctx), kThreads, 0, ctx.stream()>>>(
      static_cast<const T*>(in), static_cast<T*>(out), r, c, total);
  WHET_CUDA_LAUNCH_CHECK();
}

// out (B, C, R) = in (B, R, C) for elements of `elem` bytes.
static void batched_transpose(const void* in, void* out, int64_t b, int64_t r, int64_t c,
                              size_t elem, const Context& ctx) {
  const int64_t total = b * r * c;
  if (total == 0) return;
  switch (elem) {
    case 2:
      return launch_transpose<uint16_t>(in, out, r, c, total, ctx);
    case 4:
      return launch_transpose<uint32_t>(in, out, r, c, total, ctx);
    case 8:
      return launch_transpose<uint64_t>(in, out, r, c, total, ctx);
    default:
      break;
  }
  WHET_FAIL("conv2d: no transpose for ", elem, "-byte elements");
}

// y (N, OH, OW, O) += bias (O).
static void add_bias(Tensor& y, const Tensor& bias, const Context& ctx) {
  const int64_t total = y.numel(), o = bias.numel();
  dispatch_floating(y.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_bias_kernel<<<grid_for(total, ctx), kThreads, 0, ctx.stream()>>>(
        static_cast<T*>(y.raw_data()), static_cast<const T*>(bias.raw_data()), o, total);
    WHET_CUDA_LAUNCH_CHECK();
  });
}

namespace {

enum class Direction : uint8_t { forward, backward_data, backward_filter };
enum class Layout : uint8_t { nhwc, nchw };

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

int alignment(const void* a, const void* b, const void* c) {
  const uintptr_t bits = uintptr_t(16) | reinterpret_cast<uintptr_t>(a) |
                         reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c);
  return int(bits & (~bits + 1));  // the lowest set bit
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

// ---- cuDNN types and descriptors ----

cudnnDataType_t data_type(DType t) {
  switch (t) {
    case DType::f32:
      return CUDNN_DATA_FLOAT;
    case DType::f64:
      return CUDNN_DATA_DOUBLE;
    case DType::f16:
      return CUDNN_DATA_HALF;
    case DType::bf16:
      return CUDNN_DATA_BFLOAT16;
    default:
      break;
  }
  WHET_FAIL("conv2d: dtype ", dtype_name(t), " has no cuDNN data type");
}

// Accumulation: float for the half types (cuDNN's PSEUDO_HALF/PSEUDO_BFLOAT16 configurations).
cudnnDataType_t compute_type(DType t) {
  return t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
}

// The math the heuristics are asked about.
cudnnMathType_t requested_math(const Problem& p) {
  switch (p.dtype) {
    case DType::f32:
      return p.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;  // DEFAULT permits TF32 on Ampere+
    case DType::f16:
    case DType::bf16:
      return CUDNN_TENSOR_OP_MATH;
    default:
      return CUDNN_DEFAULT_MATH;
  }
}

// The math a ranked algorithm runs with. cuDNN decides tensor-core use from the algorithm and
// the descriptor's math type together, so each keeps the type it was ranked with, except that
// strict float32 stays pinned to FMA (no TF32 kernel can be picked) and down-conversion
// (float or bfloat16 data computed in half) is never allowed.
cudnnMathType_t run_math(const Problem& p, cudnnMathType_t ranked) {
  if (p.dtype == DType::f32 && !p.tf32) return CUDNN_FMA_MATH;
  if (ranked == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return requested_math(p);
  return ranked;
}

// A cuDNN descriptor owned for one scope; never throws on destruction.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { WHET_CUDNN_CHECK(Create(&d_)); }
  ~Descriptor() { WHET_CUDNN_WARN(Destroy(d_)); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return d_; }

 private:
  T d_ = nullptr;
};
using TensorDesc =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                            cudnnDestroyConvolutionDescriptor>;

// The four descriptors of one problem in one layout. cuDNN's dims are always given in NCHW
// order; the format says how memory is laid out. The filter's NHWC format is
// (O, KH, KW, C/groups), whet's weight layout; its NCHW format is (O, C/groups, KH, KW).
struct Descriptors {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;

  Descriptors(const Problem& p, Layout layout) {
    const cudnnTensorFormat_t format =
        layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const cudnnDataType_t type = data_type(p.dtype);
    WHET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.get(), format, type, p.n, p.c, p.h, p.w));
    WHET_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y.get(), format, type, p.n, p.o, p.oh, p.ow));
    WHET_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.get(), type, format, p.o, p.cg, p.kh, p.kw));
    WHET_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv.get(), p.ph, p.pw, p.sh, p.sw, p.dh, p.dw,
                                                     CUDNN_CROSS_CORRELATION,
                                                     compute_type(p.dtype)));
    WHET_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), p.groups));
    WHET_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), requested_math(p)));
  }
};

// ---- buffers and the NCHW route ----

// The three buffers of one call, laid out as their descriptors say. The direction decides
// which one is written: y forward, x for backward data, w for backward filter.
struct Buffers {
  void *x, *w, *y;
};

enum Role { kX, kW, kY };

Role output_role(Direction d) {
  switch (d) {
    case Direction::forward:
      return kY;
    case Direction::backward_data:
      return kX;
    case Direction::backward_filter:
      return kW;
  }
  return kY;
}

void*& slot(Buffers& b, Role r) { return r == kX ? b.x : r == kW ? b.w : b.y; }

// A role's NHWC buffer viewed as (B, S, C), S the spatial extent; its NCHW copy is (B, C, S).
struct Extents {
  int64_t b, s, c;
};
Extents extents(const Problem& p, Role r) {
  switch (r) {
    case kX:
      return {p.n, int64_t(p.h) * p.w, p.c};
    case kW:
      return {p.o, int64_t(p.kh) * p.kw, p.cg};
    case kY:
      break;
  }
  return {p.n, int64_t(p.oh) * p.ow, p.o};
}

// The buffers a layout runs on. NHWC: the caller's own. NCHW: copies, the direction's two
// inputs transposed in on construction and its output transposed back by finish() (once a
// run has succeeded). Temporaries return to the caching allocator in stream order.
class Staging {
 public:
  Staging(const Problem& p, Layout layout, const Buffers& io, const Context& ctx)
      : p_(p), ctx_(ctx), io_(io), staged_(io) {
    if (layout == Layout::nhwc) return;
    const size_t elem = dtype_size(p.dtype);
    const Role out = output_role(p.dir);
    for (Role r : {kX, kW, kY}) {
      const Extents e = extents(p, r);
      temps_[r] = std::make_unique<DeviceBuffer>(size_t(e.b * e.s * e.c) * elem, p.device);
      slot(staged_, r) = temps_[r]->get();
      if (r != out) batched_transpose(slot(io_, r), slot(staged_, r), e.b, e.s, e.c, elem, ctx);
    }
  }
  const Buffers& buffers() const { return staged_; }
  void finish() {
    const Role out = output_role(p_.dir);
    if (!temps_[out]) return;
    const Extents e = extents(p_, out);
    batched_transpose(slot(staged_, out), slot(io_, out), e.b, e.c, e.s, dtype_size(p_.dtype),
                      ctx_);
  }

 private:
  Problem p_;
  const Context& ctx_;
  Buffers io_, staged_;
  std::unique_ptr<DeviceBuffer> temps_[3];
};

// ---- running cuDNN ----

// out = conv op(inputs): alpha 1 and beta 0, so the output is overwritten, never accumulated.
cudnnStatus_t launch(const Problem& p, cudnnHandle_t h, const Descriptors& d, int algo,
                     void* workspace, size_t workspace_bytes, const Buffers& b) {
  const float one_f = 1.0f, zero_f = 0.0f;
  const double one_d = 1.0, zero_d = 0.0;
  const bool dbl = p.dtype == DType::f64;
  const void* one = dbl ? static_cast<const void*>(&one_d) : &one_f;
  const void* zero = dbl ? static_cast<const void*>(&zero_d) : &zero_f;
  switch (p.dir) {
    case Direction::forward:
      return cudnnConvolutionForward(h, one, d.x.get(), b.x, d.w.get(), b.w, d.conv.get(),
                                     cudnnConvolutionFwdAlgo_t(algo), workspace, workspace_bytes,
                                     zero, d.y.get(), b.y);
    case Direction::backward_data:
      return cudnnConvolutionBackwardData(h, one, d.w.get(), b.w, d.y.get(), b.y, d.conv.get(),
                                          cudnnConvolutionBwdDataAlgo_t(algo), workspace,
                                          workspace_bytes, zero, d.x.get(), b.x);
    case Direction::backward_filter:
      return cudnnConvolutionBackwardFilter(h, one, d.x.get(), b.x, d.y.get(), b.y, d.conv.get(),
                                            cudnnConvolutionBwdFilterAlgo_t(algo), workspace,
                                            workspace_bytes, zero, d.w.get(), b.w);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

// Bytes of workspace `algo` needs with the descriptor's current math type.
cudnnStatus_t workspace_size(const Problem& p, cudnnHandle_t h, const Descriptors& d, int algo,
                             size_t* bytes) {
  switch (p.dir) {
    case Direction::forward:
      return cudnnGetConvolutionForwardWorkspaceSize(
          h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(), cudnnConvolutionFwdAlgo_t(algo), bytes);
    case Direction::backward_data:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(
          h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), cudnnConvolutionBwdDataAlgo_t(algo),
          bytes);
    case Direction::backward_filter:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), cudnnConvolutionBwdFilterAlgo_t(algo),
          bytes);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

// An algorithm choice: the cached result of selection.
struct Plan {
  Layout layout;
  int algo;  // the direction's cudnnConvolution*Algo_t
  cudnnMathType_t math;
  size_t workspace;  // bytes
};

// Sets the plan's math type, borrows its workspace and runs it. Throws only when the
// workspace cannot be allocated; cuDNN's verdict is the returned status.
cudnnStatus_t run(const Problem& p, cudnnHandle_t h, const Descriptors& d, const Plan& plan,
                  const Buffers& b) {
  const cudnnStatus_t set = cudnnSetConvolutionMathType(d.conv.get(), plan.math);
  if (set != CUDNN_STATUS_SUCCESS) return set;
  DeviceBuffer workspace(plan.workspace, p.device);
  return launch(p, h, d, plan.algo, workspace.get(), plan.workspace, b);
}

// ---- algorithm selection ----

struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t memory;  // the heuristics' workspace estimate
  bool deterministic;
};

template <class Perf>
std::vector<Candidate> supported(const Perf* perf, int count) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS)
      out.push_back({int(perf[i].algo), perf[i].mathType, perf[i].memory,
                     perf[i].determinism == CUDNN_DETERMINISTIC});
  return out;
}

// cuDNN's heuristic ranking of the algorithms that support the problem, best expected first;
// empty (the query's status in `status`) when the query itself fails for this layout.
std::vector<Candidate> ranked(const Problem& p, cudnnHandle_t h, const Descriptors& d,
                              cudnnStatus_t& status) {
  int count = 0;
  switch (p.dir) {
    case Direction::forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      status =
          cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf);
      return status == CUDNN_STATUS_SUCCESS ? supported(perf, count) : std::vector<Candidate>{};
    }
    case Direction::backward_data: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      status = cudnnGetConvolutionBackwardDataAlgorithm_v7(
          h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
          &count, perf);
      return status == CUDNN_STATUS_SUCCESS ? supported(perf, count) : std::vector<Candidate>{};
    }
    case Direction::backward_filter: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      status = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
          &count, perf);
      return status == CUDNN_STATUS_SUCCESS ? supported(perf, count) : std::vector<Candidate>{};
    }
  }
  status = CUDNN_STATUS_BAD_PARAM;
  return {};
}

// The order to try: deterministic algorithms first (backward data and filter have atomics-
// based ones whose results vary run to run), each group in the heuristics' order, with the
// math each runs under and without repeats.
std::vector<Candidate> trial_order(const Problem& p, std::vector<Candidate> ranking) {
  std::stable_partition(ranking.begin(), ranking.end(),
                        [](const Candidate& k) { return k.deterministic; });
  std::vector<Candidate> out;
  for (Candidate k : ranking) {
    k.math = run_math(p, k.math);
    const bool seen = std::any_of(out.begin(), out.end(), [&](const Candidate& e) {
      return e.algo == k.algo && e.math == k.math;
    });
    if (!seen) out.push_back(k);
  }
  return out;
}

std::vector<Layout> layouts(DType t) {
  if (t == DType::f64) return {Layout::nchw};
  return {Layout::nhwc, Layout::nchw};
}

// The most workspace one algorithm may take: half of what the device could hand out now
// (free memory plus the allocator's cached blocks, which it releases before failing), so a
// workspace-hungry algorithm (FFT variants ask for gigabytes) never starves the activations.
size_t workspace_limit(int device) {
  size_t free_bytes = 0, total_bytes = 0;
  WHET_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return (free_bytes + allocator_stats(device).bytes_cached) / 2;
}

// Tries the ranked algorithms of each layout in turn on the real buffers; returns the first
// plan that ran (its result is already in place).
Plan select_and_run(const Problem& p, cudnnHandle_t h, const Buffers& io, const Context& ctx) {
  const size_t limit = workspace_limit(p.device);
  cudnnStatus_t last = CUDNN_STATUS_NOT_SUPPORTED;
  int tried = 0;
  for (Layout layout : layouts(p.dtype)) {
    Descriptors d(p, layout);
    cudnnStatus_t query = CUDNN_STATUS_SUCCESS;
    const std::vector<Candidate> candidates = trial_order(p, ranked(p, h, d, query));
    if (query != CUDNN_STATUS_SUCCESS) last = query;
    if (candidates.empty()) continue;
    Staging staging(p, layout, io, ctx);
    for (const Candidate& k : candidates) {
      Plan plan{layout, k.algo, k.math, 0};
      cudnnStatus_t s = cudnnSetConvolutionMathType(d.conv.get(), k.math);
      if (s == CUDNN_STATUS_SUCCESS) s = workspace_size(p, h, d, k.algo, &plan.workspace);
      if (s != CUDNN_STATUS_SUCCESS) {
        last = s;
        continue;
      }
      plan.workspace = std::max(plan.workspace, k.memory);
      if (plan.workspace > limit) continue;
      ++tried;
      try {
        s = run(p, h, d, plan, staging.buffers());
      } catch (const Error&) {  // the workspace did not fit after all: a leaner one may
        continue;
      }
      if (s == CUDNN_STATUS_SUCCESS) {
        staging.finish();
        return plan;
      }
      last = s;
      (void)cudaGetLastError();  // a launch cuDNN gave up on must not fail the next check
    }
  }
  WHET_FAIL(op_name(p.dir), ": cuDNN has no algorithm that runs ", describe(p), " (", tried,
            " tried within a workspace limit of ", limit, " bytes; last status ",
            cudnnGetErrorString(last), ")");
}

class PlanCache {
 public:
  std::optional<Plan> find(const Problem& p) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(p);
    if (it == plans_.end()) return std::nullopt;
    return it->second;
  }
  void insert(const Problem& p, const Plan& plan) {
    std::lock_guard<std::mutex> lock(mutex_);
    plans_.emplace(p, plan);
  }

 private:
  std::mutex mutex_;
  std::map<Problem, Plan> plans_;
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache();  // leaked, as the contexts: usable at exit
  return *cache;
}

// Runs the problem's cached plan, or selects one (running it) and caches it.
void execute(const Problem& p, const Buffers& io, const Context& ctx) {
  const cudnnHandle_t h = cudnn_handle(p.device);
  if (const std::optional<Plan> plan = plan_cache().find(p)) {
    Descriptors d(p, plan->layout);
    Staging staging(p, plan->layout, io, ctx);
    const cudnnStatus_t s = run(p, h, d, *plan, staging.buffers());
    WHET_CHECK(s == CUDNN_STATUS_SUCCESS, op_name(p.dir), ": cuDNN error: ", cudnnGetErrorString(s),
               "\n  running algorithm ", plan->algo, " on ", describe(p));
    staging.finish();
    return;
  }
  plan_cache().insert(p, select_and_run(p, h, io, ctx));
}

// Writes +0.0 (all-zero bits in every floating type) over t.
void zero(Tensor& t, const Context& ctx) {
  WHET_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), ctx.stream()));
}

}  // namespace

void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
            Tensor& y) {
  check_args(Direction::forward, x, w, y, bias, o);
  if (y.numel() == 0) return;
  const int dev = y.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (x.numel() == 0)  // C, H or W is 0: every sum is empty or reads padding only
    zero(y, ctx);
  else
    execute(make_problem(Direction::forward, x, w, y, o),
            {x.raw_data(), w.raw_data(), y.raw_data()}, ctx);
  if (bias.defined()) add_bias(y, bias, ctx);
}

void conv2d_backward_input(const Tensor& gy, const Tensor& w, const Conv2dOptions& o, Tensor& gx) {
  check_args(Direction::backward_data, gx, w, gy, Tensor(), o);
  if (gx.numel() == 0) return;
  const int dev = gx.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (gy.numel() == 0)  // no output channels (O = 0), or no output positions: nothing flows back
    zero(gx, ctx);
  else
    execute(make_problem(Direction::backward_data, gx, w, gy, o),
            {gx.raw_data(), w.raw_data(), gy.raw_data()}, ctx);
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Conv2dOptions& o, Tensor& gw) {
  check_args(Direction::backward_filter, x, gw, gy, Tensor(), o);
  if (gw.numel() == 0) return;
  const int dev = gw.device().index;
  DeviceGuard guard(dev);
  Context& ctx = Context::get(dev);
  if (gy.numel() == 0 || x.numel() == 0)  // an empty batch or all-padding input adds nothing
    zero(gw, ctx);
  else
    execute(make_problem(Direction::backward_filter, x, gw, gy, o),
            {x.raw_data(), gw.raw_data(), gy.raw_data()}, ctx);
}

}  // namespace whet::cuda

#endif  // WHET_WITH_CUDNN
