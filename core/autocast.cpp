#include "core/autocast.h"

#include "core/ops.h"

namespace whet {

namespace {
thread_local bool g_enabled = false;
thread_local DType g_dtype = DType::bf16;

// The dtype `t` should have under `policy`, or its own when the policy leaves it alone.
DType wanted(CastPolicy policy, const Tensor& t) {
  const DType dt = t.dtype();
  if (!is_floating(dt) || dt == DType::f64) return dt;
  return policy == CastPolicy::lower_precision ? g_dtype : DType::f32;
}
}  // namespace

bool autocast_enabled() { return g_enabled; }
DType autocast_dtype() { return g_dtype; }

AutocastGuard::AutocastGuard(DType dtype, bool enabled)
    : prev_enabled_(g_enabled), prev_dtype_(g_dtype) {
  WHET_CHECK(is_half(dtype), "autocast: dtype must be float16 or bfloat16, got ",
             dtype_name(dtype));
  g_enabled = enabled;
  g_dtype = dtype;
}

AutocastGuard::~AutocastGuard() {
  g_enabled = prev_enabled_;
  g_dtype = prev_dtype_;
}

std::optional<std::vector<Tensor>> autocast_inputs(CastPolicy policy,
                                                   std::initializer_list<Tensor> inputs) {
  if (!g_enabled) return std::nullopt;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && wanted(policy, t) != t.dtype());
  if (!any) return std::nullopt;
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    const bool cast_it = t.defined() && wanted(policy, t) != t.dtype();
    out.push_back(cast_it ? cast(t, wanted(policy, t)) : t);
  }
  return out;
}

}  // namespace whet
