#include "optim/adam.h"


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
                        ParamState& st, const Tensor& found_inf) {
  if (st.empty()) {
    st.step = zeros({}, DType::f32, param.device());
    st.set("exp_avg", zeros_like(param));
    st.set("exp_avg_sq", zeros_like(param));
  }
  // amsgrad switched on after some steps (PyTorch would fail): the maximum starts at zero.
  if (o.amsgrad && !st.find("max_exp_avg_sq")) st.set("max_exp_avg_sq", zeros_like(param));
  Tensor max_exp_avg_sq = o.amsgrad ? *st.find("max_exp_avg_sq") : Tensor();
  update_kernel(param, &Backend::adam_step, name().c_str())(
      param, grad, *st.find("exp_avg"), *st.find("exp_avg_sq"), max_exp_avg_sq, st.step, o,
      found_inf);
}

}  // namespace whet::optim
