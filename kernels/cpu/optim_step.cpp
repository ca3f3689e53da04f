// Fused optimizer updates and loss-scaling kernels (core/backend.h, "optimizer updates").
// Each element goes through the operations torch.optim's single-tensor CPU path applies, in
// its order and with its roundings: every intermediate is rounded to T, and a scalar is
// rounded to T before it meets a tensor (PyTorch casts a Python float to the kernel's compute
// type). Compiled without fused multiply-adds (-ffp-contract=off in CMakeLists.txt), so a
// float64 trajectory matches PyTorch's to the last bits or so.
// The CUDA kernels (kernels/cuda/optim_step.cu) are tested against these.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

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

// PyTorch's building blocks (optim/update_math.h's formulas, element by element). PyTorch
// skips the multiply where a scalar is 1; 1 * x is exact, so one formula gives its results
// either way, without a branch in the element loop.
// self + alpha * other
template <class T>
T add_scaled(T self, T other, double alpha) {
  return T(self + T(other * T(alpha)));
}
// self + (value * t1) * t2
template <class T>
T addcmul(T self, T t1, T t2, double value) {
  return T(self + T(T(t1 * T(value)) * t2));
}
// self + (value * t1) / t2
template <class T>
T addcdiv(T self, T t1, T t2, double value) {
  return T(self + T(T(t1 * T(value)) / t2));
}
// torch.lerp with the weight already rounded to T: two formulas, the one nearer the end;
// kLow is |w| < 0.5, decided once per update (with_flags below).
template <bool kLow, class T>
T lerp(T self, T end, T w) {
  if constexpr (kLow) return T(self + T(T(end - self) * w));
  return T(end - T(T(end - self) * T(T(1) - w)));
}
template <class T>
bool lerp_low(T w) {
  return std::abs(w) < T(0.5);
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

// body(std::bool_constant<flag>...): the element loops are compiled once per combination of
// the flags, so that each is a branch-free body the compiler vectorises.
template <class F>
void with_flags(F&& body) {
  body();
}
template <class F, class... Flags>
void with_flags(F&& body, bool flag, Flags... rest) {
  if (flag)
    with_flags([&](auto... r) { body(std::true_type{}, r...); }, rest...);
  else
    with_flags([&](auto... r) { body(std::false_type{}, r...); }, rest...);
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
    with_flags(
        [&](auto has_momentum, auto is_first, auto is_nesterov) {
          T* __restrict pr = p;
          const T* __restrict gr = g_in;
          T* __restrict br = b;
          for (int64_t i = begin; i < end; ++i) {
            T g = maximize ? T(-gr[i]) : gr[i];
            if (decay) g = add_scaled(g, pr[i], wd);
            if constexpr (decltype(has_momentum)::value) {
              T bi;
              if constexpr (decltype(is_first)::value)
                bi = g;
              else
                bi = add_scaled(T(br[i] * T(mu)), g, keep);
              br[i] = bi;
              if constexpr (decltype(is_nesterov)::value)
                g = add_scaled(g, bi, mu);
              else
                g = bi;
            }
            pr[i] = add_scaled(pr[i], g, neg_lr);
          }
        },
        momentum, momentum && first, momentum && nesterov);
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
    with_flags(
        [&](auto amsgrad, auto low_w1) {
          T* __restrict pr = p;
          const T* __restrict gr = g_in;
          T* __restrict mr = m;
          T* __restrict vr = v;
          T* __restrict vmaxr = vmax;
          // Locals, not the closure's members, which the stores might alias for all the
          // compiler knows: it would reload them every element and not vectorise.
          const bool mx = maximize, dec = decay_on, dcp = decoupled;
          const T wdecay = decay, w1_ = w1, b2 = beta2, bc2 = bias_correction2_sqrt, eps = p_eps;
          const double wd_ = wd, omb2 = one_minus_beta2, step_ = neg_step;
          for (int64_t i = begin; i < end; ++i) {
            T g = mx ? T(-gr[i]) : gr[i];
            T pi = pr[i];
            if (dec) {
              if (dcp)
                pi = T(pi * wdecay);
              else
                g = add_scaled(g, pi, wd_);
            }
            const T mi = lerp<decltype(low_w1)::value>(mr[i], g, w1_);
            mr[i] = mi;
            const T vi = addcmul(T(vr[i] * b2), g, g, omb2);
            vr[i] = vi;
            T second = vi;
            if constexpr (decltype(amsgrad)::value)
              second = vmaxr[i] = (vi > vmaxr[i] || vi != vi) ? vi : vmaxr[i];  // NaN wins
            T denom = T(T(std::sqrt(second) / bc2) + eps);
            pr[i] = addcdiv(pi, mi, denom, step_);
          }
        },
        vmax != nullptr, lerp_low(w1));
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
    with_flags(
        [&](auto centered, auto has_momentum, auto low_w) {
          T* __restrict pr = p;
          const T* __restrict gr = g_in;
          T* __restrict sqr = sq;
          T* __restrict gar = ga;
          T* __restrict br = b;
          for (int64_t i = begin; i < end; ++i) {
            T g = maximize ? T(-gr[i]) : gr[i];
            if (decay) g = add_scaled(g, pr[i], wd);
            const T si = addcmul(T(sqr[i] * alpha), g, g, one_minus_alpha);
            sqr[i] = si;
            T avg;
            if constexpr (decltype(centered)::value) {
              const T gai = lerp<decltype(low_w)::value>(gar[i], g, w);
              gar[i] = gai;
              avg = std::sqrt(addcmul(si, gai, gai, -1));
            } else {
              avg = std::sqrt(si);
            }
            avg = T(avg + p_eps);
            if constexpr (decltype(has_momentum)::value) {
              const T bi = addcdiv(T(br[i] * momentum), g, avg, 1);
              br[i] = bi;
              pr[i] = add_scaled(pr[i], bi, neg_lr);
            } else {
              pr[i] = addcdiv(pr[i], g, avg, neg_lr);
            }
          }
        },
        ga != nullptr, b != nullptr, lerp_low(w));
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
    const T inv = T(inv_scale), largest = std::numeric_limits<T>::max();
    std::atomic<bool> bad{false};
    // One pass: scale, and note a value that is not finite (NaN fails the comparison too).
    for_chunks(grad.numel(), [&](int64_t begin, int64_t end) {
      T* __restrict gr = g;
      bool chunk_bad = false;
      for (int64_t i = begin; i < end; ++i) {
        const T v = gr[i];
        chunk_bad |= !(std::abs(v) <= largest);
        gr[i] = T(v * inv);
      }
      if (chunk_bad) bad.store(true, std::memory_order_relaxed);
    });
    if (bad.load()) found_inf.data<float>()[0] = 1.0f;
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
