// The buffers a cuDNN convolution runs on, in the layout its plan chose. NHWC runs on whet's
// own buffers; the NCHW route (float64, and problems no NHWC algorithm runs) on transposed
// copies. Internal to kernels/cuda/conv*.cu.
#pragma once
#include <memory>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/conv_problem.cuh"

namespace whet::cuda::conv_detail {

// The three buffers of one call, laid out as their descriptors say. The direction decides
// which one is written: y forward, x for backward data, w for backward filter.
struct Buffers {
  void *x, *w, *y;
};

// The buffers a layout runs on. NHWC: the caller's own. NCHW: copies, the direction's two
// inputs transposed in on construction and its output transposed back by finish() (once a
// run has succeeded). Temporaries return to the caching allocator in stream order.
class Staging {
 public:
  Staging(const Problem& p, Layout layout, const Buffers& io, const Context& ctx);
  const Buffers& buffers() const { return staged_; }
  void finish();

 private:
  Problem p_;
  const Context& ctx_;
  Buffers io_, staged_;
  std::unique_ptr<DeviceBuffer> temps_[3];  // by role: x, w, y
};

}  // namespace whet::cuda::conv_detail
