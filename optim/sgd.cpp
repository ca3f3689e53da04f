#include "optim/sgd.h"

#include "optim/update_math.h"

namespace whet::optim {

void SGDOptions::check() const {
  WHET_CHECK(lr >= 0, "SGD: invalid learning rate ", lr, " (must be >= 0)");
  WHET_CHECK(momentum >= 0, "SGD: invalid momentum value ", momentum, " (must be >= 0)");
  WHET_CHECK(weight_decay >= 0, "SGD: invalid weight_decay value ", weight_decay,
             " (must be >= 0)");
  WHET_CHECK(!nesterov || (momentum > 0 && dampening == 0),
             "SGD: Nesterov momentum requires a momentum and zero dampening");
}

SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups) : TypedOptimizer("SGD", std::move(groups)) {}
SGD::SGD(std::vector<Tensor> params, SGDOptions o)
    : SGD({ParamGroup<SGDOptions>(std::move(params), o)}) {}
SGD::SGD(const NamedTensors& params, SGDOptions o) : SGD({ParamGroup<SGDOptions>(params, o)}) {}

void SGD::update_param(const SGDOptions& o, Tensor& param, const Tensor& grad,
                       ParamState& st) {
  Tensor g = o.maximize ? -grad : grad;
  if (o.weight_decay != 0) g = add_scaled(g, param, o.weight_decay);
  if (o.momentum != 0) {
    Tensor* buf = st.find("momentum_buffer");
    if (!buf) {
      // The first buffer is the gradient itself, undampened, as PyTorch. A copy: the
      // gradient tensor belongs to the parameter and may be zeroed in place later.
      st.set("momentum_buffer", g.clone());
      buf = st.find("momentum_buffer");
    } else {
      *buf = add_scaled(*buf * o.momentum, g, 1 - o.dampening);
    }
    g = o.nesterov ? add_scaled(g, *buf, o.momentum) : *buf;
  }
  param.copy_(add_scaled(param, g, -o.lr));
}

}  // namespace whet::optim
