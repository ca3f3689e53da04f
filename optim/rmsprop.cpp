#include "optim/rmsprop.h"

#include "optim/update_math.h"

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
                           ParamState& st) {
  if (st.empty()) st.set("square_avg", zeros_like(param));
  // Buffers a later change of momentum/centered asks for start at zero, as a fresh state would.
  auto state = [&](const char* name) {
    const Tensor* t = st.find(name);
    return t ? *t : zeros_like(param);
  };
  st.step += 1;
  Tensor g = o.maximize ? -grad : grad;
  if (o.weight_decay != 0) g = add_scaled(g, param, o.weight_decay);
  Tensor square_avg = addcmul(state("square_avg") * o.alpha, g, g, 1 - o.alpha);
  st.set("square_avg", square_avg);
  Tensor avg;
  if (o.centered) {
    Tensor grad_avg = lerp(state("grad_avg"), g, 1 - o.alpha);
    st.set("grad_avg", grad_avg);
    avg = sqrt(addcmul(square_avg, grad_avg, grad_avg, -1));
  } else {
    avg = sqrt(square_avg);
  }
  avg = avg + o.eps;
  if (o.momentum > 0) {
    Tensor buf = addcdiv(state("momentum_buffer") * o.momentum, g, avg, 1);
    st.set("momentum_buffer", buf);
    param.copy_(add_scaled(param, buf, -o.lr));
  } else {
    param.copy_(addcdiv(param, g, avg, -o.lr));
  }
}

}  // namespace whet::optim
