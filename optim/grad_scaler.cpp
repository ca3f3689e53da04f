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
  if (!scale_.defined()) {
    scale_ = full({}, pending_scale_, DType::f32, loss.device());
    growth_tracker_ = full({}, double(pending_tracker_), DType::i64, loss.device());
  }
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
  Tensor found = zeros({}, DType::f32, scale_.device());
  for (size_t g = 0; g < opt.num_groups(); ++g) {
    for (const Tensor& p : opt.params(g)) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      WHET_CHECK(grad.dtype() != DType::f16, "GradScaler.unscale_: attempting to unscale FP16 "
                 "gradients (keep float32 master parameters)");
      WHET_CHECK(grad.device() == scale_.device(), "GradScaler.unscale_: a gradient is on ",
                 grad.device().str(), " but the loss (and the scale) on ",
                 scale_.device().str());
      update_kernel(grad, &Backend::amp_unscale, "GradScaler.unscale_")(grad, scale_, found);
    }
  }
  st.found_inf = found;
  st.stage = Stage::unscaled;
}

void GradScaler::step(Optimizer& opt) {
  if (!o_.enabled) {
    opt.step();
    return;
  }
  check_started("step");
  PerOptimizer& st = per_opt_[&opt];
  WHET_CHECK(st.stage != Stage::stepped, "GradScaler.step() has already been called since the "
             "last update()");
  if (st.stage == Stage::ready) unscale_(opt);
  opt.step(st.found_inf);
  st.stage = Stage::stepped;
}

void GradScaler::update() {
  if (!o_.enabled) return;
  check_started("update");
  NoGradGuard no_grad;
  Tensor found;
  for (const auto& kv : per_opt_) {
    if (!kv.second.found_inf.defined()) continue;
    found = found.defined() ? maximum(found, kv.second.found_inf) : kv.second.found_inf;
  }
  WHET_CHECK(found.defined(), "GradScaler.update: no inf checks were recorded prior to update "
             "(call step() or unscale_() first)");
  update_kernel(scale_, &Backend::amp_update_scale, "GradScaler.update")(
      scale_, growth_tracker_, found, o_.growth_factor, o_.backoff_factor, o_.growth_interval);
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

int64_t GradScaler::growth_tracker() const {
  return growth_tracker_.defined() ? int64_t(growth_tracker_.item()) : pending_tracker_;
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
          {"growth_tracker", scalar_f64(double(growth_tracker()))}};
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
  if (scale_.defined()) {
    scale_.fill_(scale);
    growth_tracker_.fill_(double(tracker));
  } else {
    pending_scale_ = scale;
    pending_tracker_ = tracker;
  }
}

}  // namespace whet::optim
