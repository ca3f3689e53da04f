// Dynamic loss scaling for mixed precision, as torch.amp.GradScaler (device-agnostic).
//   scaler.scale(loss).backward();
//   scaler.unscale_(opt);               // optional: before clipping gradients
//   scaler.step(opt);                   // unscales if needed; skips the step on inf/NaN
//   scaler.update();                    // backs off on inf/NaN, grows after clean runs
// The scale, the growth tracker and each optimizer's found_inf live on the loss's device and
// only kernels read them (ARCHITECTURE.md, decision 7): unscale_, step and update never wait
// for the device (an optimizer's very first step aside, see Optimizer::step). A skipped step
// leaves parameters and optimizer state untouched: the update kernels read found_inf. update(): on inf, scale *= backoff_factor and the growth tracker resets;
// after growth_interval consecutive clean steps, scale *= growth_factor (kept finite).
#pragma once
#include <map>

#include "optim/optimizer.h"

namespace whet::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
  bool enabled = true;  // disabled: scale() is the identity and step() plainly steps
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions o = {});

  // loss * scale (differentiable; the scale needs no gradient). Creates the scale tensor on
  // the loss's device at the first call.
  Tensor scale(const Tensor& loss);
  // Divides the optimizer's gradients by the scale, once per step, and records whether any
  // of them held an inf or NaN.
  void unscale_(Optimizer& opt);
  // Unscales (unless unscale_ ran) and steps the optimizer, whose kernels skip the update
  // when an inf/NaN was found. found_inf(opt) tells which, at the price of a host read.
  void step(Optimizer& opt);
  // Adjusts the scale from this iteration's found_inf flags; update(v) sets it to v instead.
  void update();
  void update(double new_scale);

  bool is_enabled() const { return o_.enabled; }
  double get_scale() const;  // a host read; the initial scale before the first scale()
  int64_t growth_tracker() const;  // a host read
  const Tensor& scale_tensor() const { return scale_; }  // undefined before the first scale()
  // The found_inf flag unscale_ recorded for `opt` this iteration (undefined if none).
  Tensor found_inf(const Optimizer& opt) const;

  // scale (0-D float32), growth_tracker, growth_factor, backoff_factor, growth_interval.
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& sd);

 private:
  enum class Stage { ready, unscaled, stepped };
  struct PerOptimizer {
    Stage stage = Stage::ready;
    Tensor found_inf;  // 0-D float32, 1 when a gradient held inf or NaN
  };
  void check_started(const char* fn) const;

  GradScalerOptions o_;
  Tensor scale_;           // 0-D float32
  Tensor growth_tracker_;  // 0-D int64 on scale_'s device: clean steps since the last change
  double pending_scale_;   // the scale and tracker to start from, until scale_ exists
  int64_t pending_tracker_ = 0;
  std::map<const Optimizer*, PerOptimizer> per_opt_;
};

}  // namespace whet::optim
