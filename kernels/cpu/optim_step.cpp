// Fused optimizer updates and loss-scaling kernels (core/backend.h, "optimizer updates").
// Each element goes through the operations torch.optim's single-tensor CPU path applies, in
// its order and with its roundings: every intermediate is rounded to T, and a scalar is
// rounded to T before it meets a tensor (PyTorch casts a Python float to the kernel's compute
// type). Compiled without fused multiply-adds (-ffp-contract=off in CMakeLists.txt), so a
// float64 trajectory matches PyTorch's to the last bits or so.
// The CUDA kernels (kernels/cuda/optim_step.cu) are tested against these.
#include <cmath>

#include "core/optim_step_args.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

// true when a found_inf flag says "skip": read once, before any write.
bool skipped(const Tensor& found_inf) {
  return found_inf.defined() && found_inf.data<float>()[0] != 0.0f;
}

// PyTorch's building blocks (optim/update_math.h's formulas, element by element).
// self + alpha * other; alpha 1 skips the multiply, as 1 * x is exact.
template <class T>
T add_scaled(T self, T other, double alpha) {
  return alpha == 1.0 ? T(self + other) : T(self + T(other * T(alpha)));
}
// self + (value * t1) * t2
template <class T>
T addcmul(T self, T t1, T t2, double value) {
  return value == 1.0 ? T(self + T(t1 * t2)) : T(self + T(T(t1 * T(value)) * t2));
}
// self + (value * t1) / t2
template <class T>
T addcdiv(T self, T t1, T t2, double value) {
  return value == 1.0 ? T(self + T(t1 / t2)) : T(self + T(T(t1 * T(value)) / t2));
}
// torch.lerp with the weight already rounded to T: two formulas, the one nearer the end.
template <class T>
T lerp(T self, T end, T w) {
  if (std::abs(w) < T(0.5)) return T(self + T(T(end - self) * w));
  return T(end - T(T(end - self) * T(T(1) - w)));
}

template <class T>
void sgd_typed(Tensor& param, const Tensor& grad, Tensor& buf, bool first_step,
               const SgdStepOptions& o) {
  T* p = param.data<T>();
  const T* g_in = grad.data<T>();
  T* b = buf.defined() ? buf.data<T>() : nullptr;
  parallel_for(param.numel(), kGrain, [&](int64_t i) {
    T g = o.maximize ? T(-g_in[i]) : g_in[i];
    if (o.weight_decay != 0) g = add_scaled(g, p[i], o.weight_decay);
    if (o.momentum != 0) {
      b[i] = first_step ? g : add_scaled(T(b[i] * T(o.momentum)), g, 1 - o.dampening);
      g = o.nesterov ? add_scaled(g, b[i], o.momentum) : b[i];
    }
    p[i] = add_scaled(p[i], g, -o.lr);
  });
}

template <class T>
void adam_typed(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                Tensor& max_exp_avg_sq, double step, const AdamStepOptions& o) {
  // Python computes these in double: beta ** step, then math.sqrt.
  double bias_correction1 = 1 - std::pow(o.beta1, step);
  double bias_correction2 = 1 - std::pow(o.beta2, step);
  double step_size = o.lr / bias_correction1;
  T bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  T decay = T(1 - o.lr * o.weight_decay);  // AdamW's p *= 1 - lr·wd
  T w1 = T(1 - o.beta1);                   // lerp's weight, rounded as torch.lerp's scalar
  T p_eps = T(o.eps), beta2 = T(o.beta2);
  T* p = param.data<T>();
  const T* g_in = grad.data<T>();
  T* m = exp_avg.data<T>();
  T* v = exp_avg_sq.data<T>();
  T* vmax = max_exp_avg_sq.defined() ? max_exp_avg_sq.data<T>() : nullptr;
  parallel_for(param.numel(), kGrain, [&](int64_t i) {
    T g = o.maximize ? T(-g_in[i]) : g_in[i];
    T pi = p[i];
    if (o.weight_decay != 0) {
      if (o.decoupled_weight_decay) pi = T(pi * decay);
      else g = add_scaled(g, pi, o.weight_decay);
    }
    m[i] = lerp(m[i], g, w1);
    v[i] = addcmul(T(v[i] * beta2), g, g, 1 - o.beta2);
    T second = v[i];
    if (vmax) second = vmax[i] = (v[i] > vmax[i] || v[i] != v[i]) ? v[i] : vmax[i];  // NaN wins
    T denom = T(T(std::sqrt(second) / bias_correction2_sqrt) + p_eps);
    p[i] = addcdiv(pi, m[i], denom, -step_size);
  });
}

template <class T>
void rmsprop_typed(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                   Tensor& buf, const RmspropStepOptions& o) {
  T alpha = T(o.alpha), w = T(1 - o.alpha), p_eps = T(o.eps), momentum = T(o.momentum);
  T* p = param.data<T>();
  const T* g_in = grad.data<T>();
  T* sq = square_avg.data<T>();
  T* ga = grad_avg.defined() ? grad_avg.data<T>() : nullptr;
  T* b = buf.defined() ? buf.data<T>() : nullptr;
  parallel_for(param.numel(), kGrain, [&](int64_t i) {
    T g = o.maximize ? T(-g_in[i]) : g_in[i];
    if (o.weight_decay != 0) g = add_scaled(g, p[i], o.weight_decay);
    sq[i] = addcmul(T(sq[i] * alpha), g, g, 1 - o.alpha);
    T avg;
    if (ga) {
      ga[i] = lerp(ga[i], g, w);
      avg = std::sqrt(addcmul(sq[i], ga[i], ga[i], -1));
    } else {
      avg = std::sqrt(sq[i]);
    }
    avg = T(avg + p_eps);
    if (b) {
      b[i] = addcdiv(T(b[i] * momentum), g, avg, 1);
      p[i] = add_scaled(p[i], b[i], -o.lr);
    } else {
      p[i] = addcdiv(p[i], g, avg, -o.lr);
    }
  });
}

// The step counter (0-D float32, PyTorch's dtype) after this update, as a double.
double advance(Tensor& step) {
  float* s = step.data<float>();
  *s += 1.0f;
  return double(*s);
}

}  // namespace

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, bool first_step,
              const SgdStepOptions& o, const Tensor& found_inf) {
  check_sgd_step_args(param, grad, momentum_buffer, o, found_inf);
  if (skipped(found_inf)) return;
  dispatch_float(param.dtype(), "sgd_step", [&](auto tag) {
    sgd_typed<typename decltype(tag)::type>(param, grad, momentum_buffer, first_step, o);
  });
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
               Tensor& max_exp_avg_sq, Tensor& step, const AdamStepOptions& o,
               const Tensor& found_inf) {
  check_adam_step_args(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, o, found_inf);
  if (skipped(found_inf)) return;
  double t = advance(step);
  dispatch_float(param.dtype(), "adam_step", [&](auto tag) {
    adam_typed<typename decltype(tag)::type>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                                             t, o);
  });
}

void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                  Tensor& momentum_buffer, Tensor& step, const RmspropStepOptions& o,
                  const Tensor& found_inf) {
  check_rmsprop_step_args(param, grad, square_avg, grad_avg, momentum_buffer, step, o,
                          found_inf);
  if (skipped(found_inf)) return;
  advance(step);
  dispatch_float(param.dtype(), "rmsprop_step", [&](auto tag) {
    rmsprop_typed<typename decltype(tag)::type>(param, grad, square_avg, grad_avg,
                                                momentum_buffer, o);
  });
}

void amp_unscale(Tensor& grad, const Tensor& scale, Tensor& found_inf) {
  check_amp_unscale_args(grad, scale, found_inf);
  // PyTorch: self._scale.double().reciprocal().float()
  float inv_scale = float(1.0 / double(scale.data<float>()[0]));
  dispatch_float(grad.dtype(), "amp_unscale", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* g = grad.data<T>();
    int64_t n = grad.numel();
    bool bad = false;
    for (int64_t i = 0; i < n && !bad; ++i) bad = !std::isfinite(g[i]);
    if (bad) found_inf.data<float>()[0] = 1.0f;
    T inv = T(inv_scale);
    parallel_for(n, kGrain, [&](int64_t i) { g[i] = T(g[i] * inv); });
  });
}

void amp_update_scale(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval) {
  check_amp_update_scale_args(scale, growth_tracker, found_inf);
  float& s = scale.data<float>()[0];
  int64_t& tracker = growth_tracker.data<int64_t>()[0];
  if (found_inf.data<float>()[0] != 0.0f) {
    s = float(double(s) * backoff_factor);
    tracker = 0;
  } else if (tracker + 1 == growth_interval) {
    float grown = float(double(s) * growth_factor);
    if (std::isfinite(grown)) s = grown;  // never grow past float32's range
    tracker = 0;
  } else {
    tracker += 1;
  }
}

}  // namespace whet::cpu
