// The op case table (tools/opcheck) run through the public API on CUDA in float32, forward
// and backward, against the same case on the CPU in float32. An op without a CUDA kernel
// fails the test (convolution excepted in a build without cuDNN).
#include <set>

#include "core/ops.h"
#include "tests/gpu/gpu_test_util.h"
#include "tools/opcheck/opcheck.h"

using namespace whet;
using namespace whet::gputest;

namespace {

bool missing_kernel(const Error& e) {
  return std::string(e.what()).find("no cuda kernel") != std::string::npos;
}

// Leaves on `d`: floating inputs in float32, index tensors unchanged; requires_grad kept.
std::vector<Tensor> leaves_on(const std::vector<Tensor>& xs, Device d) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) {
    Tensor t = x.detach();
    if (is_floating(t.dtype())) t = t.to(DType::f32);
    t = t.to(d);
    if (x.requires_grad()) t.set_requires_grad(true);
    out.push_back(t);
  }
  return out;
}

// Reductions and GEMM-backed ops sum in a different order on the GPU, so float32 results are
// compared at rtol 1e-4 / atol 1e-5 rather than the elementwise 1.3e-6.
constexpr Tol kTol{1e-4, 1e-5};

}  // namespace

TEST_CASE("cuda: op case table in float32 matches the CPU") {
  int checked = 0, backward_checked = 0;
  std::set<std::string> no_forward, no_backward;
  for (const opcheck::OpCase& c : opcheck::op_cases()) {
    std::string what = c.op + " (" + c.label + ")";
    Generator g(1234);
    std::vector<Tensor> xs = c.inputs(g);
    std::vector<Tensor> xc = leaves_on(xs, Device::cpu()), xg = leaves_on(xs, dev());
    Tensor yc = c.fn(xc), yg;
    try {
      yg = c.fn(xg);
    } catch (const Error& e) {
      if (missing_kernel(e))
        no_forward.insert(c.op);
      else
        FAIL_CHECK(what << ": " << e.what());
      continue;
    }
    ++checked;
    WHET_CHECK_CLOSE(what, yg, yc, kTol);

    bool wants_grad = false;
    for (const Tensor& x : xc) wants_grad = wants_grad || x.requires_grad();
    if (!wants_grad || !yc.requires_grad()) continue;
    Tensor gy = uniform_cpu(yc.shape(), DType::f32, -1, 1, 77);
    yc.backward(gy);
    try {
      yg.backward(gy.to(dev()));
    } catch (const Error& e) {
      if (missing_kernel(e))
        no_backward.insert(c.op);
      else
        FAIL_CHECK(what << " backward: " << e.what());
      continue;
    }
    ++backward_checked;
    for (size_t i = 0; i < xc.size(); ++i) {
      if (!xc[i].requires_grad()) continue;
      REQUIRE_MESSAGE(xg[i].grad().defined(), what << ": input " << i << " got no gradient");
      WHET_CHECK_CLOSE(what + " grad of input " + std::to_string(i), xg[i].grad(), xc[i].grad(),
                       kTol);
    }
  }
  std::string missing;
  for (const std::string& op : no_forward) missing += " " + op;
  std::string missing_bw;
  for (const std::string& op : no_backward) missing_bw += " " + op;
  MESSAGE(checked << " cases checked forward, " << backward_checked << " backward on CUDA");
  // Every slot has a CUDA kernel now; only a build without cuDNN lacks convolution.
#ifdef WHET_WITH_CUDNN
  CHECK_MESSAGE(missing.empty(), "no CUDA kernel (forward):" << missing);
  CHECK_MESSAGE(missing_bw.empty(), "no CUDA kernel (backward):" << missing_bw);
#else
  if (!missing.empty()) MESSAGE("built without cuDNN; no CUDA kernel (forward):" << missing);
  if (!missing_bw.empty()) MESSAGE("built without cuDNN; no CUDA kernel (backward):" << missing_bw);
#endif
  CHECK(checked > 0);
}
