#include "optim/rmsprop.h"

namespace whet::optim {

void RMSpropOptions::check() const {
  WHET_CHECK(lr >= 0, "RMSprop: invalid learning rate ", lr, " (must be >= 0)");
  WHET_CHECK(eps >= 0, "RMSprop: invalid epsilon value ", eps, " (must be >= 0)");
  WHET_CHECK(momentum >= 0, "RMSprop: invalid momentum value ", momentum, " (must be >= 0)");
  WHET_CHECK(weight_decay >= 0, "RMSprop: invalid weight_decay value ", weight_decay,
             " (must be >= 0)");
  WHET_CHECK(alpha >= 0, "RMSprop: invalid alpha value ", alpha, " (must be >= 0)");
}

RMSprop::RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups)
    : TypedOptimizer("RMSprop", std::move(groups)) {}
RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions o)
    : RMSprop({ParamGroup<RMSpropOptions>(std::move(params), o)}) {}
RMSprop::RMSprop(const NamedTensors& params, RMSpropOptions o)
    : RMSprop({ParamGroup<RMSpropOptions>(params, o)}) {}

std::vector<std::string> RMSprop::required_state_for(const RMSpropOptions& o) const {
  std::vector<std::string> r{"square_avg"};
  if (o.momentum > 0) r.push_back("momentum_buffer");
  if (o.centered) r.push_back("grad_avg");
  return r;
}

void RMSprop::update_param(const RMSpropOptions& o, Tensor& param, const Tensor& grad,
                           ParamState& st, const Tensor& found_inf) {
  if (st.empty()) {
    st.step = zeros({}, DType::f32, param.device());
    st.set("square_avg", zeros_like(param));
  }
  // Buffers a later change of momentum/centered asks for start at zero, as a fresh state would.
  auto state = [&](const char* name, bool wanted) {
    if (!wanted) return Tensor();
    if (!st.find(name)) st.set(name, zeros_like(param));
    return *st.find(name);
  };
  Tensor grad_avg = state("grad_avg", o.centered);
  Tensor buf = state("momentum_buffer", o.momentum > 0);
  update_kernel(param, &Backend::rmsprop_step, "RMSprop")(
      param, grad, *st.find("square_avg"), grad_avg, buf, st.step, o, found_inf);
}

}  // namespace whet::optim
