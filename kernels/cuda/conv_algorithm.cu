// Running cuDNN convolutions: descriptors, algorithm selection and the plan cache
// (kernels/cuda/conv_algorithm.cuh).
#ifdef WHET_WITH_CUDNN

#include "kernels/cuda/conv_algorithm.cuh"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "kernels/cuda/allocator.cuh"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/cudnn_check.cuh"
#include "kernels/cuda/cudnn_handle.cuh"

namespace whet::cuda::conv_detail {
namespace {

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

}  // namespace

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

}  // namespace whet::cuda::conv_detail

#endif  // WHET_WITH_CUDNN
