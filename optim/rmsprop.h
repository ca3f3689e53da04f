// RMSprop, as torch.optim.RMSprop (foreach=False):
//   g = ±grad + wd·p;  v = α·v + (1 − α)·g²;  centered: ḡ = lerp(ḡ, g, 1 − α), v' = v − ḡ²
//   avg = sqrt(v') + eps;  momentum: b = μ·b + g / avg, p = p − lr·b;  else p = p − lr·g / avg
// State: step, square_avg, momentum_buffer (momentum > 0), grad_avg (centered).
#pragma once
#include "optim/optimizer.h"

namespace whet::optim {

struct RMSpropOptions : RmspropStepOptions {  // fields and defaults: core/options.h
  void check() const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("alpha", o.alpha);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("momentum", o.momentum);
    f("centered", o.centered);
    f("maximize", o.maximize);
  }
};

class RMSprop : public TypedOptimizer<RMSpropOptions> {
 public:
  explicit RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups);
  RMSprop(std::vector<Tensor> params, RMSpropOptions o = {});
  RMSprop(const NamedTensors& params, RMSpropOptions o = {});

 protected:
  void update_param(const RMSpropOptions& o, Tensor& param, const Tensor& grad,
                    ParamState& st, const Tensor& found_inf) override;
  std::vector<std::string> required_state_for(const RMSpropOptions& o) const override;
  std::vector<std::string> state_names() const override {
    return {"square_avg", "momentum_buffer", "grad_avg"};
  }
  bool counts_steps() const override { return true; }
};

}  // namespace whet::optim
