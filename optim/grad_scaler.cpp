#include "optim/grad_scaler.h"

#include <cmath>

#include "core/autograd.h"

namespace whet::optim {

namespace {
void check_options(const GradScalerOptions& o, const char* what) {
  WHET_CHECK(o.growth_factor > 1.0, what, ": the growth factor must be > 1.0, got ",
             o.growth_factor);
  WHET_CHECK(o.backoff_factor < 1.0 && o.backoff_factor > 0, what,
             ": the backoff factor must be in (0, 1), got ", o.backoff_factor);
  WHET_CHECK(o.growth_interval > 0, what, ": growth_interval must be positive, got ",
             o.growth_interval);
}
}  // namespace

GradScaler::GradScaler(GradScalerOptions o) : o_(o), pending_scale_(o.init_scale) {
  check_options(o_, "GradScaler");
  WHET_CHECK(o_.init_scale > 0 && std::isfinite(o_.init_scale),
             "GradScaler: init_scale must be positive and finite, got ", o_.init_scale);
}

void GradScaler::check_started(const char* fn) const {
  WHET_CHECK(scale_.defined(), "GradScaler.", fn, ": the scale does not exist yet; call "
             "scale(loss) earlier in the iteration");
}

Tensor GradScaler::scale(const Tensor& loss) {
  if (!o_.enabled) return loss;
  WHET_CHECK(loss.defined(), "GradScaler.scale: the loss is undefined");
  if (!scale_.defined()) scale_ = full({}, pending_scale_, DType::f32, loss.device());
  return loss * cast(to_device(scale_, loss.device()), loss.dtype());
}

void GradScaler::unscale_(Optimizer& opt) {
  if (!o_.enabled) return;
  check_started("unscale_");
  PerOptimizer& st = per_opt_[&opt];
  WHET_CHECK(st.stage != Stage::unscaled, "GradScaler.unscale_() has already been called on "
             "this optimizer since the last update()");
  WHET_CHECK(st.stage != Stage::stepped, "GradScaler.unscale_() is being called after step()");
  NoGradGuard no_grad;
  // PyTorch: self._scale.double().reciprocal().float()
  Tensor inv_scale = cast(reciprocal(cast(scale_, DType::f64)), DType::f32);
  Tensor found = zeros({}, DType::f32, scale_.device());
  for (size_t g = 0; g < opt.num_groups(); ++g) {
    for (const Tensor& p : opt.params(g)) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      WHET_CHECK(grad.dtype() != DType::f16, "GradScaler.unscale_: attempting to unscale FP16 "
                 "gradients (keep float32 master parameters)");
      // x * 0 is 0 for a finite x and NaN for inf or NaN, so one sum flags the whole tensor
      // without a host read; checked before unscaling, as PyTorch does.
      Tensor probe = sum(grad * 0.0);
      Tensor bad = cast(to_device(ne(probe, probe), scale_.device()), DType::f32);
      found = maximum(found, bad);
      grad.copy_(grad * cast(to_device(inv_scale, grad.device()), grad.dtype()));
    }
  }
  st.found_inf = found;
  st.stage = Stage::unscaled;
}

bool GradScaler::step(Optimizer& opt) {
  if (!o_.enabled) {
    opt.step();
    return true;
  }
  check_started("step");
  PerOptimizer& st = per_opt_[&opt];
  WHET_CHECK(st.stage != Stage::stepped, "GradScaler.step() has already been called since the "
             "last update()");
  if (st.stage == Stage::ready) unscale_(opt);
  // The one host read per step. On the device path the optimizer's fused kernels will read
  // found_inf on the device and skip their own update, so nothing waits here.
  bool skip = st.found_inf.item() != 0;
  if (!skip) opt.step();
  st.stage = Stage::stepped;
  return !skip;
}

void GradScaler::update() {
  if (!o_.enabled) return;
  check_started("update");
  bool any_check = false, found = false;
  for (const auto& kv : per_opt_) {
    if (!kv.second.found_inf.defined()) continue;
    any_check = true;
    found = found || kv.second.found_inf.item() != 0;
  }
  WHET_CHECK(any_check, "GradScaler.update: no inf checks were recorded prior to update "
             "(call step() or unscale_() first)");
  // torch._amp_update_scale_ on the host; the device path will run it as a one-thread kernel
  // over scale_, the growth tracker and found_inf. The scale is float32; products round to it.
  float s = float(scale_.item());
  if (found) {
    s = float(double(s) * o_.backoff_factor);
    growth_tracker_ = 0;
  } else if (growth_tracker_ + 1 == o_.growth_interval) {
    float grown = float(double(s) * o_.growth_factor);
    if (std::isfinite(grown)) s = grown;  // never grow past float32's range
    growth_tracker_ = 0;
  } else {
    growth_tracker_ += 1;
  }
  scale_.fill_(double(s));
  per_opt_.clear();
}

void GradScaler::update(double new_scale) {
  if (!o_.enabled) return;
  check_started("update");
  WHET_CHECK(new_scale > 0, "GradScaler.update: new_scale must be positive, got ", new_scale);
  scale_.fill_(new_scale);
  per_opt_.clear();
}

double GradScaler::get_scale() const {
  if (!o_.enabled) return 1.0;
  return scale_.defined() ? scale_.item() : pending_scale_;
}

Tensor GradScaler::found_inf(const Optimizer& opt) const {
  auto it = per_opt_.find(&opt);
  return it == per_opt_.end() ? Tensor() : it->second.found_inf;
}

NamedTensors GradScaler::state_dict() const {
  if (!o_.enabled) return {};
  return {{"scale", Tensor::scalar(get_scale(), DType::f32)},
          {"growth_factor", scalar_f64(o_.growth_factor)},
          {"backoff_factor", scalar_f64(o_.backoff_factor)},
          {"growth_interval", scalar_f64(double(o_.growth_interval))},
          {"growth_tracker", scalar_f64(double(growth_tracker_))}};
}

void GradScaler::load_state_dict(const NamedTensors& sd) {
  if (!o_.enabled) return;
  WHET_CHECK(!sd.empty(), "GradScaler.load_state_dict: the source state dict is empty, "
             "possibly because it was saved from a disabled GradScaler");
  StateReader r(sd, "GradScaler load_state_dict");
  GradScalerOptions o = o_;
  double scale = r.scalar("scale");
  o.growth_factor = r.scalar("growth_factor");
  o.backoff_factor = r.scalar("backoff_factor");
  o.growth_interval = int64_t(r.scalar("growth_interval"));
  int64_t tracker = int64_t(r.scalar("growth_tracker"));
  r.finish();
  check_options(o, "GradScaler load_state_dict");
  WHET_CHECK(scale > 0 && std::isfinite(scale), "GradScaler load_state_dict: scale must be "
             "positive and finite, got ", scale);
  WHET_CHECK(tracker >= 0, "GradScaler load_state_dict: growth_tracker must be >= 0");
  o_ = o;
  growth_tracker_ = tracker;
  if (scale_.defined()) scale_.fill_(scale);
  else pending_scale_ = scale;
}

}  // namespace whet::optim
