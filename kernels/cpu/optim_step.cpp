// Fused optimizer updates and loss-scaling kernels (core/backend.h, "optimizer updates").
// Each element goes through the operations torch.optim's single-tensor CPU path applies, in
// its order and with its roundings: every intermediate is rounded to T, and a scalar is
// rounded to T before it meets a tensor (PyTorch casts a Python float to the kernel's compute
// type). Compiled without fused multiply-adds (-ffp-contract=off in CMakeLists.txt), so a
// float64 trajectory matches PyTorch's to the last bits or so.
// The CUDA kernels (kernels/cuda/optim_step.cu) are tested against these.
#include <algorithm>
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

// Runs body(begin, end) over [0, n) in chunks, the chunks spread over threads: each chunk is a
// plain loop the compiler can vectorise, with the options hoisted into locals it can see are
// invariant (through `const Options&`, a store to a double parameter might change them).
template <class F>
void for_chunks(int64_t n, F&& body) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, kGrain / kChunk, [&](int64_t c) {
    body(c * kChunk, std::min(n, (c + 1) * kChunk));
  });
}

template <class T>
void sgd_typed(Tensor& param, const Tensor& grad, Tensor& buf, bool first_step,
               const SgdStepOptions& o) {
  T* p = param.data<T>();
  const T* g_in = grad.data<T>();
  T* b = buf.defined() ? buf.data<T>() : nullptr;
  const bool maximize = o.maximize, decay = o.weight_decay != 0, momentum = o.momentum != 0,
             nesterov = o.nesterov, first = first_step;
  const double wd = o.weight_decay, mu = o.momentum, keep = 1 - o.dampening, neg_lr = -o.lr;
  for_chunks(param.numel(), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = maximize ? T(-g_in[i]) : g_in[i];
      if (decay) g = add_scaled(g, p[i], wd);
      if (momentum) {
        b[i] = first ? g : add_scaled(T(b[i] * T(mu)), g, keep);
        g = nesterov ? add_scaled(g, b[i], mu) : b[i];
      }
      p[i] = add_scaled(p[i], g, neg_lr);
    }
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
  const bool maximize = o.maximize, decay_on = o.weight_decay != 0,
             decoupled = o.decoupled_weight_decay;
  const double wd = o.weight_decay, one_minus_beta2 = 1 - o.beta2, neg_step = -step_size;
  for_chunks(param.numel(), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = maximize ? T(-g_in[i]) : g_in[i];
      T pi = p[i];
      if (decay_on) {
        if (decoupled) pi = T(pi * decay);
        else g = add_scaled(g, pi, wd);
      }
      m[i] = lerp(m[i], g, w1);
      v[i] = addcmul(T(v[i] * beta2), g, g, one_minus_beta2);
      T second = v[i];
      if (vmax) second = vmax[i] = (v[i] > vmax[i] || v[i] != v[i]) ? v[i] : vmax[i];  // NaN wins
      T denom = T(T(std::sqrt(second) / bias_correction2_sqrt) + p_eps);
      p[i] = addcdiv(pi, m[i], denom, neg_step);
    }
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
  const bool maximize = o.maximize, decay = o.weight_decay != 0;
  const double wd = o.weight_decay, one_minus_alpha = 1 - o.alpha, neg_lr = -o.lr;
  for_chunks(param.numel(), [=](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T g = maximize ? T(-g_in[i]) : g_in[i];
      if (decay) g = add_scaled(g, p[i], wd);
      sq[i] = addcmul(T(sq[i] * alpha), g, g, one_minus_alpha);
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
        p[i] = add_scaled(p[i], b[i], neg_lr);
      } else {
        p[i] = addcdiv(p[i], g, avg, neg_lr);
      }
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
