#include "optim/adam.h"

#include <cmath>

#include "optim/update_math.h"

namespace whet::optim {

void AdamOptions::check() const {
  WHET_CHECK(lr >= 0, "Adam: invalid learning rate ", lr, " (must be >= 0)");
  WHET_CHECK(eps >= 0, "Adam: invalid epsilon value ", eps, " (must be >= 0)");
  WHET_CHECK(beta1 >= 0 && beta1 < 1, "Adam: invalid beta parameter at index 0: ", beta1,
             " (must be in [0, 1))");
  WHET_CHECK(beta2 >= 0 && beta2 < 1, "Adam: invalid beta parameter at index 1: ", beta2,
             " (must be in [0, 1))");
  WHET_CHECK(weight_decay >= 0, "Adam: invalid weight_decay value ", weight_decay,
             " (must be >= 0)");
}

Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups) : Adam("Adam", std::move(groups)) {}
Adam::Adam(std::vector<Tensor> params, AdamOptions o)
    : Adam({ParamGroup<AdamOptions>(std::move(params), o)}) {}
Adam::Adam(const NamedTensors& params, AdamOptions o)
    : Adam({ParamGroup<AdamOptions>(params, o)}) {}

namespace {
std::vector<ParamGroup<AdamOptions>> as_adam(std::vector<ParamGroup<AdamWOptions>> groups) {
  std::vector<ParamGroup<AdamOptions>> out;
  for (auto& g : groups) out.emplace_back(std::move(g.params), std::move(g.names), g.options);
  return out;
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup<AdamWOptions>> groups)
    : Adam("AdamW", as_adam(std::move(groups))) {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions o)
    : AdamW(std::vector<ParamGroup<AdamWOptions>>{
          ParamGroup<AdamWOptions>(std::move(params), o)}) {}
AdamW::AdamW(const NamedTensors& params, AdamWOptions o)
    : AdamW(std::vector<ParamGroup<AdamWOptions>>{ParamGroup<AdamWOptions>(params, o)}) {}

std::vector<std::string> Adam::required_state_for(const AdamOptions& o) const {
  if (o.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::update_param(const AdamOptions& o, Tensor& param, const Tensor& grad,
                        ParamState& st) {
  if (st.empty()) {
    st.set("exp_avg", zeros_like(param));
    st.set("exp_avg_sq", zeros_like(param));
    if (o.amsgrad) st.set("max_exp_avg_sq", zeros_like(param));
  }
  st.step += 1;
  Tensor g = o.maximize ? -grad : grad;
  Tensor p = param;
  if (o.weight_decay != 0) {
    if (o.decoupled_weight_decay) p = p * (1 - o.lr * o.weight_decay);
    else g = add_scaled(g, p, o.weight_decay);
  }
  Tensor m = lerp(*st.find("exp_avg"), g, 1 - o.beta1);
  Tensor v = addcmul(*st.find("exp_avg_sq") * o.beta2, g, g, 1 - o.beta2);
  st.set("exp_avg", m);
  st.set("exp_avg_sq", v);

  // Python computes these in double: beta ** step, then math.sqrt.
  double step = double(st.step);
  double bias_correction1 = 1 - std::pow(o.beta1, step);
  double bias_correction2 = 1 - std::pow(o.beta2, step);
  double step_size = o.lr / bias_correction1;
  double bias_correction2_sqrt = std::sqrt(bias_correction2);

  Tensor second = v;
  if (o.amsgrad) {
    // amsgrad switched on after some steps (PyTorch would fail): the maximum starts at zero.
    const Tensor* prev = st.find("max_exp_avg_sq");
    second = maximum(prev ? *prev : zeros_like(param), v);
    st.set("max_exp_avg_sq", second);
  }
  Tensor denom = sqrt(second) / bias_correction2_sqrt + o.eps;
  param.copy_(addcdiv(p, m, denom, -step_size));
}

}  // namespace whet::optim
