// Stochastic gradient descent with momentum, as torch.optim.SGD (foreach=False):
//   g = ±grad + wd·p;  b = g (first step) or μ·b + (1 − τ)·g;  g = g + μ·b (Nesterov) or b;
//   p = p − lr·g.
// State: momentum_buffer (when momentum ≠ 0).
#pragma once
#include "optim/optimizer.h"

namespace whet::optim {

struct SGDOptions : SgdStepOptions {  // fields and defaults: core/options.h
  void check() const;  // PyTorch's constructor checks, as whet::Error
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("dampening", o.dampening);
    f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
    f("maximize", o.maximize);
  }
};

class SGD : public TypedOptimizer<SGDOptions> {
 public:
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);
  SGD(std::vector<Tensor> params, SGDOptions o = {});
  SGD(const NamedTensors& params, SGDOptions o = {});

 protected:
  void update_param(const SGDOptions& o, Tensor& param, const Tensor& grad,
                    ParamState& st, const Tensor& found_inf) override;
  std::vector<std::string> required_state_for(const SGDOptions&) const override { return {}; }
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
  bool counts_steps() const override { return false; }
  bool keeps_state(const Hyper& h) const override { return hyper_get(h, "momentum") != 0; }
};

}  // namespace whet::optim
