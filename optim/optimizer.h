// The base of every optimizer, as torch.optim.Optimizer: parameter groups, each with its own
// hyper-parameters (a head can learn faster than its backbone), per-parameter state, step(),
// zero_grad(), and a state dict of named tensors.
//
// Updates run under NoGradGuard as one fused kernel per parameter (Backend::sgd_step and
// friends), on the parameter's device; they change parameters and state in place. A parameter whose gradient is undefined is skipped, its state untouched, exactly as
// PyTorch; parameters that do not require grad are accepted (they never get one).
//
// State dict layout (every value a tensor, so it fits a safetensors checkpoint):
//   group.<g>.params       int64 (n_g): global indices of the group's parameters, numbered
//                          through the groups in order, as PyTorch's param_groups[g]["params"]
//   group.<g>.<hyper>      0-D float64 per hyper-parameter (lr, momentum, beta1, ...; flags 0/1)
//   group.<g>.initial_lr   0-D float64, once a scheduler has set it
//   state.<i>.step         0-D float32 (PyTorch's dtype), optimizers that count steps
//   state.<i>.<name>       exp_avg, momentum_buffer, ...: the parameter's shape and dtype
// Only parameters that have stepped have state entries, as in PyTorch. The tensors are the
// live state, as PyTorch's: the next step changes them (clone to keep a snapshot).
#pragma once
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "optim/state_io.h"

namespace whet::optim {

// Hyper-parameters by PyTorch's names, in a fixed order; flags are stored as 0 or 1.
using Hyper = std::vector<std::pair<std::string, double>>;
double hyper_get(const Hyper& h, const std::string& name);  // throws when absent

// One parameter's optimizer state.
struct ParamState {
  // Updates applied, for optimizers that count them: a 0-D float32 on the parameter's device
  // (PyTorch's state["step"]), which the update kernel advances without a host read.
  Tensor step;
  NamedTensors tensors;  // same shape, dtype and device as the parameter
  bool empty() const { return !step.defined() && tensors.empty(); }
  int64_t steps() const;  // a host read of step; 0 when undefined
  Tensor* find(const std::string& name);
  const Tensor* find(const std::string& name) const;
  void set(const std::string& name, Tensor t);
};

// The parameter's device's kernel for an update (e.g. &Backend::adam_step); throws, naming
// the slot, when that device has none.
template <class Slot>
Slot update_kernel(const Tensor& param, Slot Backend::*slot, const char* name) {
  Slot k = backend(param.device()).*slot;
  WHET_CHECK(k != nullptr, name, ": no kernel on ", param.device().str());
  return k;
}

// A parameter group for optimizer construction: its tensors, optionally named (names show up
// in error messages), and its hyper-parameters.
template <class Options>
struct ParamGroup {
  std::vector<Tensor> params;
  std::vector<std::string> names;  // empty, or one per parameter
  Options options;

  ParamGroup(std::vector<Tensor> p, Options o = {}) : params(std::move(p)), options(o) {}
  ParamGroup(const NamedTensors& p, Options o = {}) : options(o) {
    for (const auto& [name, t] : p) {
      names.push_back(name);
      params.push_back(t);
    }
  }
  ParamGroup(std::vector<Tensor> p, std::vector<std::string> n, Options o)
      : params(std::move(p)), names(std::move(n)), options(o) {}
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& name() const { return name_; }  // "SGD", "Adam", ...

  // One update of every parameter that has a gradient. found_inf, when defined, is a 0-D
  // float32 on the parameters' device (GradScaler's): a non-zero value makes the update
  // write nothing, decided by the kernels on the device. Only a step that would create some
  // parameter's state reads it on the host first, so that a skipped first step leaves none.
  void step(const Tensor& found_inf = Tensor());
  // set_to_none (PyTorch's default) drops the gradients; otherwise they are zeroed in place.
  void zero_grad(bool set_to_none = true);

  // ---- groups ----
  size_t num_groups() const { return groups_.size(); }
  size_t num_params() const;
  const std::vector<Tensor>& params(size_t group) const;
  const std::vector<std::string>& param_names(size_t group) const;  // empty when unnamed

  // ---- hyper-parameters, by PyTorch's names ----
  double lr(size_t group) const { return hyper(group, "lr"); }
  void set_lr(size_t group, double lr) { set_hyper(group, "lr", lr); }
  std::vector<std::string> hyper_names() const;
  bool has_hyper(const std::string& name) const;
  double hyper(size_t group, const std::string& name) const;
  // Validates the group's options with the new value; on error nothing changes.
  void set_hyper(size_t group, const std::string& name, double value);
  // The learning rate a scheduler started from (PyTorch's param_group["initial_lr"]).
  std::optional<double> initial_lr(size_t group) const;
  void set_initial_lr(size_t group, double lr);

  // ---- state ----
  const ParamState& state(size_t group, size_t index) const;
  NamedTensors state_dict() const;
  // Checks every key, shape and value first; on error the optimizer is left unchanged. State
  // tensors are converted to their parameter's dtype and device.
  void load_state_dict(const NamedTensors& sd);

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}

  // Validates and appends a group (derived constructors, after checking `hyper`).
  void add_group(std::vector<Tensor> params, std::vector<std::string> names, Hyper hyper);
  // Throws when no group holds a parameter (PyTorch: "optimizer got an empty parameter list").
  void check_not_empty() const;
  const Hyper& group_hyper(size_t group) const;
  // Validates `h` (same names as the group's) and makes it the group's hyper-parameters.
  void replace_hyper(size_t group, Hyper h);

  // ---- what each optimizer defines ----
  // Throws whet::Error naming the first invalid value.
  virtual void check_hyper(const Hyper& h) const = 0;
  // One parameter's update, under NoGradGuard, in place; nothing when found_inf says skip.
  virtual void update(const Hyper& h, Tensor& param, const Tensor& grad, ParamState& st,
                      const Tensor& found_inf) = 0;
  // Names of the state tensors it may keep, and those that must exist once a parameter has
  // state, given its group's hyper-parameters.
  virtual std::vector<std::string> state_names() const = 0;
  virtual std::vector<std::string> required_state(const Hyper& h) const = 0;
  virtual bool counts_steps() const = 0;
  // Whether an update with these hyper-parameters keeps per-parameter state (SGD without
  // momentum keeps none).
  virtual bool keeps_state(const Hyper&) const { return true; }

 private:
  struct Group {
    std::vector<Tensor> params;
    std::vector<std::string> names;
    Hyper hyper;
    std::optional<double> initial_lr;
    std::vector<ParamState> state;
  };
  std::string param_label(size_t group, size_t index) const;  // for messages
  std::string name_;
  std::vector<Group> groups_;
};

// The typed layer: an Options struct with `check()` and
//   template <class Self, class F> static void fields(Self& o, F&& f)  // f("lr", o.lr); ...
// gives the named hyper-parameters, and `update_param` receives the typed options.
template <class Options>
class TypedOptimizer : public Optimizer {
 public:
  Options options(size_t group) const { return from_hyper(group_hyper(group)); }
  void set_options(size_t group, const Options& o) { replace_hyper(group, to_hyper(o)); }

  static Hyper to_hyper(const Options& o) {
    Hyper h;
    Options::fields(o, [&](const char* name, const auto& v) { h.emplace_back(name, double(v)); });
    return h;
  }
  static Options from_hyper(const Hyper& h) {
    Options o;
    Options::fields(o, [&](const char* name, auto& v) {
      using V = std::decay_t<decltype(v)>;
      double x = hyper_get(h, name);
      if constexpr (std::is_same_v<V, bool>) v = x != 0;
      else v = V(x);
    });
    return o;
  }

 protected:
  TypedOptimizer(std::string name, std::vector<ParamGroup<Options>> groups)
      : Optimizer(std::move(name)) {
    for (auto& g : groups) {
      g.options.check();
      add_group(std::move(g.params), std::move(g.names), to_hyper(g.options));
    }
    check_not_empty();
  }

  virtual void update_param(const Options& o, Tensor& param, const Tensor& grad,
                            ParamState& st, const Tensor& found_inf) = 0;
  virtual std::vector<std::string> required_state_for(const Options& o) const = 0;

  void check_hyper(const Hyper& h) const override { from_hyper(h).check(); }
  void update(const Hyper& h, Tensor& param, const Tensor& grad, ParamState& st,
              const Tensor& found_inf) override {
    update_param(from_hyper(h), param, grad, st, found_inf);
  }
  std::vector<std::string> required_state(const Hyper& h) const override {
    return required_state_for(from_hyper(h));
  }
};

}  // namespace whet::optim
