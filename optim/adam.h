// Adam and AdamW, as torch.optim.Adam / AdamW (foreach=False, the single-tensor path):
//   g = ±grad (+ wd·p, Adam's coupled L2);   AdamW first decays p *= 1 − lr·wd
//   m = lerp(m, g, 1 − β1);  v = β2·v + (1 − β2)·g²;  v̂ = max(v̂, v) (amsgrad)
//   denom = sqrt(v or v̂) / sqrt(1 − β2^t) + eps;  p = p − (lr / (1 − β1^t))·m / denom
// State: step, exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad).
#pragma once
#include "optim/optimizer.h"

namespace whet::optim {

struct AdamOptions : AdamStepOptions {  // fields and defaults: core/options.h
  void check() const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.beta1);
    f("beta2", o.beta2);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("amsgrad", o.amsgrad);
    f("maximize", o.maximize);
    f("decoupled_weight_decay", o.decoupled_weight_decay);
  }
};

// AdamW's defaults: decoupled decay with weight_decay 1e-2.
struct AdamWOptions : AdamOptions {
  AdamWOptions() {
    weight_decay = 1e-2;
    decoupled_weight_decay = true;
  }
};

class Adam : public TypedOptimizer<AdamOptions> {
 public:
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);
  Adam(std::vector<Tensor> params, AdamOptions o = {});
  Adam(const NamedTensors& params, AdamOptions o = {});

 protected:
  Adam(std::string name, std::vector<ParamGroup<AdamOptions>> groups)
      : TypedOptimizer(std::move(name), std::move(groups)) {}
  void update_param(const AdamOptions& o, Tensor& param, const Tensor& grad,
                    ParamState& st, const Tensor& found_inf) override;
  std::vector<std::string> required_state_for(const AdamOptions& o) const override;
  std::vector<std::string> state_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }
  bool counts_steps() const override { return true; }
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<ParamGroup<AdamWOptions>> groups);
  AdamW(std::vector<Tensor> params, AdamWOptions o = {});
  AdamW(const NamedTensors& params, AdamWOptions o = {});
};

}  // namespace whet::optim
