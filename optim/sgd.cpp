#include "optim/sgd.h"


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

void SGD::update_param(const SGDOptions& o, Tensor& param, const Tensor& grad, ParamState& st,
                       const Tensor& found_inf) {
  Tensor buf;
  bool first_step = false;
  if (o.momentum != 0) {
    if (!st.find("momentum_buffer")) {
      // The kernel makes the first buffer the gradient itself, undampened, as PyTorch.
      st.set("momentum_buffer", zeros_like(param));
      first_step = true;
    }
    buf = *st.find("momentum_buffer");
  }
  update_kernel(param, &Backend::sgd_step, "SGD")(param, grad, buf, first_step, o, found_inf);
}

}  // namespace whet::optim
