// cuDNN algorithm choice for whet's convolutions. The first call of a problem asks cuDNN's
// heuristics (cudnnGet*Algorithm_v7) for their ranking, puts the deterministic algorithms
// first, drops those whose workspace is more than the device can spare, and runs the rest in
// turn until one succeeds (the heuristics sometimes rank an algorithm that then reports
// NOT_SUPPORTED). The winner is cached for the process; later calls run it directly.
// Internal to kernels/cuda/conv*.cu.
#pragma once
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/conv_problem.cuh"
#include "kernels/cuda/conv_staging.cuh"

namespace whet::cuda::conv_detail {

// Runs problem `p` on the caller's NHWC buffers `io` on ctx's stream: the problem's cached
// plan, or a plan selected (by running it) and then cached. The direction's output buffer is
// overwritten. Throws whet::Error when no algorithm runs.
void execute(const Problem& p, const Buffers& io, const Context& ctx);

}  // namespace whet::cuda::conv_detail
