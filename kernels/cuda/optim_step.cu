#include "kernels/cuda/optim_step.cuh"

#include "core/optim_step_args.h"

#include <string>

#include "kernels/cuda/common.cuh"

namespace whet::cuda {

// The formulas and their order are kernels/cpu/optim_step.cpp's, element for element: every
// intermediate is rounded to T, every scalar is rounded to T before it meets a tensor, and all
// arithmetic goes through the _rn intrinsics so that nvcc contracts nothing into an fma.
//
// Device scalars: found_inf (null when undefined) is read by every thread before it writes
// anything, so a non-zero flag leaves every tensor as it was. Adam and RMSprop read their
// step count (0-D float32) in the main kernel and increment it in a one-thread kernel launched
// after it on the same stream, so no block of the main kernel can see a half-updated count.
// None of these values is ever read on the host.

namespace {

// add_rn and mul_rn come from common.cuh; the other roundings the formulas need.
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float div_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div_rn(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double sqrt_rn(double a) { return __dsqrt_rn(a); }

// A Python-float scalar as PyTorch's kernels see it: rounded to T, and `one` when it is
// exactly 1 (then the multiply is skipped, as 1 * x is exact).
template <class T>
struct Coef {
  T v;
  bool one;
};
template <class T>
__host__ __device__ __forceinline__ Coef<T> coef(double a) {
  return {T(a), a == 1.0};
}

// PyTorch's building blocks, as the CPU file's.
// self + alpha * other
template <class T>
__device__ __forceinline__ T add_scaled(T self, T other, Coef<T> alpha) {
  return alpha.one ? add_rn(self, other) : add_rn(self, mul_rn(other, alpha.v));
}
// self + (value * t1) * t2
template <class T>
__device__ __forceinline__ T addcmul(T self, T t1, T t2, Coef<T> value) {
  return value.one ? add_rn(self, mul_rn(t1, t2)) : add_rn(self, mul_rn(mul_rn(t1, value.v), t2));
}
// self + (value * t1) / t2
template <class T>
__device__ __forceinline__ T addcdiv(T self, T t1, T t2, Coef<T> value) {
  return value.one ? add_rn(self, div_rn(t1, t2)) : add_rn(self, div_rn(mul_rn(t1, value.v), t2));
}
// torch.lerp with the weight already rounded to T: two formulas, the one nearer the end.
template <class T>
__device__ __forceinline__ T lerp(T self, T end, T w) {
  T diff = sub_rn(end, self);
  if ((w < T(0) ? -w : w) < T(0.5)) return add_rn(self, mul_rn(diff, w));
  return sub_rn(end, mul_rn(diff, sub_rn(T(1), w)));
}

__device__ __forceinline__ bool skipped(const float* found_inf) {
  return found_inf != nullptr && *found_inf != 0.0f;
}

template <class P>
P* ptr(const Tensor& t) {
  return t.defined() ? static_cast<P*>(t.raw_data()) : nullptr;
}

// ---- scalars, rounded on the host where they do not depend on the device step ----

template <class T>
struct SgdScalars {
  Coef<T> weight_decay, momentum, dampened, neg_lr;  // dampened = 1 - dampening
  bool use_weight_decay, use_momentum, nesterov, maximize, first_step;
};

template <class T>
struct AdamScalars {
  double lr, beta1, beta2;  // the bias corrections come from the device step, in double
  Coef<T> weight_decay, one_minus_beta2;
  T decay, w1, eps, beta2_t;  // decay: AdamW's 1 - lr·wd; w1: lerp's weight 1 - beta1
  bool use_weight_decay, decoupled, maximize;
};

template <class T>
struct RmspropScalars {
  Coef<T> weight_decay, one_minus_alpha, neg_lr;
  T alpha, w, eps, momentum;  // w: the centered average's lerp weight 1 - alpha
  bool use_weight_decay, maximize;
};

}  // namespace

// ---- kernels ----

// p, g (n), b (n, null without momentum); found_inf (1, or null)
template <class T>
static __global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g_in, T* __restrict__ b,
                                  int64_t n, SgdScalars<T> s, const float* __restrict__ found_inf) {
  if (skipped(found_inf)) return;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    T g = s.maximize ? T(-g_in[i]) : g_in[i];
    const T pi = p[i];
    if (s.use_weight_decay) g = add_scaled(g, pi, s.weight_decay);
    if (s.use_momentum) {
      T bi = s.first_step ? g : add_scaled(mul_rn(b[i], s.momentum.v), g, s.dampened);
      b[i] = bi;
      g = s.nesterov ? add_scaled(g, bi, s.momentum) : bi;
    }
    p[i] = add_scaled(pi, g, s.neg_lr);
  }
}

// p, g, m, v (n), vmax (n, null without amsgrad); step, found_inf (1, found_inf may be null).
// step is the count before this update; the bias corrections use it plus one.
template <class T>
static __global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g_in, T* __restrict__ m,
                                   T* __restrict__ v, T* __restrict__ vmax, int64_t n,
                                   AdamScalars<T> s, const float* __restrict__ step,
                                   const float* __restrict__ found_inf) {
  if (skipped(found_inf)) return;
  // As the CPU's advance() and adam_typed: the float32 count plus one, then Python's double
  // beta ** step and math.sqrt.
  const double t = double(add_rn(*step, 1.0f));
  const double bias_correction1 = sub_rn(1.0, ::pow(s.beta1, t));
  const double bias_correction2 = sub_rn(1.0, ::pow(s.beta2, t));
  const Coef<T> neg_step_size = coef<T>(-div_rn(s.lr, bias_correction1));
  const T bias_correction2_sqrt = T(sqrt_rn(bias_correction2));
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    T g = s.maximize ? T(-g_in[i]) : g_in[i];
    T pi = p[i];
    if (s.use_weight_decay) {
      if (s.decoupled)
        pi = mul_rn(pi, s.decay);
      else
        g = add_scaled(g, pi, s.weight_decay);
    }
    const T mi = lerp(m[i], g, s.w1);
    const T vi = addcmul(mul_rn(v[i], s.beta2_t), g, g, s.one_minus_beta2);
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (vmax) {
      const T old = vmax[i];
      second = (vi > old || vi != vi) ? vi : old;  // NaN wins
      vmax[i] = second;
    }
    const T denom = add_rn(div_rn(sqrt_rn(second), bias_correction2_sqrt), s.eps);
    p[i] = addcdiv(pi, mi, denom, neg_step_size);
  }
}

// p, g, sq (n), ga (n, null unless centered), b (n, null without momentum);
// found_inf (1, or null)
template <class T>
static __global__ void rmsprop_kernel(T* __restrict__ p, const T* __restrict__ g_in,
                                      T* __restrict__ sq, T* __restrict__ ga, T* __restrict__ b,
                                      int64_t n, RmspropScalars<T> s,
                                      const float* __restrict__ found_inf) {
  if (skipped(found_inf)) return;
  const Coef<T> minus_one = coef<T>(-1.0), one = coef<T>(1.0);
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    T g = s.maximize ? T(-g_in[i]) : g_in[i];
    const T pi = p[i];
    if (s.use_weight_decay) g = add_scaled(g, pi, s.weight_decay);
    const T sqi = addcmul(mul_rn(sq[i], s.alpha), g, g, s.one_minus_alpha);
    sq[i] = sqi;
    T avg;
    if (ga) {
      const T gai = lerp(ga[i], g, s.w);
      ga[i] = gai;
      avg = sqrt_rn(addcmul(sqi, gai, gai, minus_one));
    } else {
      avg = sqrt_rn(sqi);
    }
    avg = add_rn(avg, s.eps);
    if (b) {
      const T bi = addcdiv(mul_rn(b[i], s.momentum), g, avg, one);
      b[i] = bi;
      p[i] = add_scaled(pi, bi, s.neg_lr);
    } else {
      p[i] = addcdiv(pi, g, avg, s.neg_lr);
    }
  }
}

// step, found_inf (1, found_inf may be null): one thread, after the update on the same stream.
static __global__ void advance_step_kernel(float* __restrict__ step,
                                           const float* __restrict__ found_inf) {
  if (skipped(found_inf)) return;
  *step = add_rn(*step, 1.0f);
}

// g (n); scale, found_inf (1). The check reads the values before they are unscaled; every
// thread that saw a non-finite value writes the same 1 (a benign race, as PyTorch's).
template <class T>
static __global__ void amp_unscale_kernel(T* __restrict__ g, int64_t n,
                                          const float* __restrict__ scale,
                                          float* __restrict__ found_inf) {
  // PyTorch: self._scale.double().reciprocal().float(), then rounded to T.
  const T inv = T(float(div_rn(1.0, double(*scale))));
  bool bad = false;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const T x = g[i];
    bad |= !isfinite(x);
    g[i] = mul_rn(x, inv);
  }
  if (bad) *found_inf = 1.0f;
}

// scale, growth_tracker, found_inf (1): one thread, the CPU's logic.
static __global__ void amp_update_scale_kernel(float* __restrict__ scale,
                                               int64_t* __restrict__ growth_tracker,
                                               const float* __restrict__ found_inf,
                                               double growth_factor, double backoff_factor,
                                               int64_t growth_interval) {
  float s = *scale;
  int64_t tracker = *growth_tracker;
  if (*found_inf != 0.0f) {
    s = float(mul_rn(double(s), backoff_factor));
    tracker = 0;
  } else if (tracker + 1 == growth_interval) {
    const float grown = float(mul_rn(double(s), growth_factor));
    if (isfinite(grown)) s = grown;  // never grow past float32's range
    tracker = 0;
  } else {
    tracker += 1;
  }
  *scale = s;
  *growth_tracker = tracker;
}

// ---- launchers ----

template <class T>
static void launch_sgd(T* p, const T* g, T* b, int64_t n, const SgdScalars<T>& s,
                       const float* found_inf, const Context& ctx) {
  sgd_kernel<T><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(p, g, b, n, s, found_inf);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T>
static void launch_adam(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamScalars<T>& s,
                        const float* step, const float* found_inf, const Context& ctx) {
  adam_kernel<T>
      <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(p, g, m, v, vmax, n, s, step, found_inf);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T>
static void launch_rmsprop(T* p, const T* g, T* sq, T* ga, T* b, int64_t n,
                           const RmspropScalars<T>& s, const float* found_inf, const Context& ctx) {
  rmsprop_kernel<T>
      <<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(p, g, sq, ga, b, n, s, found_inf);
  WHET_CUDA_LAUNCH_CHECK();
}

static void launch_advance_step(float* step, const float* found_inf, const Context& ctx) {
  advance_step_kernel<<<1, 1, 0, ctx.stream()>>>(step, found_inf);
  WHET_CUDA_LAUNCH_CHECK();
}

template <class T>
static void launch_amp_unscale(T* g, int64_t n, const float* scale, float* found_inf,
                               const Context& ctx) {
  amp_unscale_kernel<T><<<grid_for(n, ctx), kThreads, 0, ctx.stream()>>>(g, n, scale, found_inf);
  WHET_CUDA_LAUNCH_CHECK();
}

static void launch_amp_update_scale(float* scale, int64_t* growth_tracker, const float* found_inf,
                                    double growth_factor, double backoff_factor,
                                    int64_t growth_interval, const Context& ctx) {
  amp_update_scale_kernel<<<1, 1, 0, ctx.stream()>>>(
      scale, growth_tracker, found_inf, growth_factor, backoff_factor, growth_interval);
  WHET_CUDA_LAUNCH_CHECK();
}

// ---- host side: checks, then the launch on the parameter's device ----

namespace {

// The tensor the op updates (parameter, grad or scale) sits on a CUDA device; everything else
// it touches must sit there too.
void check_on_cuda(const char* op, const Tensor& t, const char* name) {
  WHET_CHECK(t.defined() && t.device().is_cuda(), op, ": ", name, " must be a CUDA tensor, got ",
             t.defined() ? t.device().str() : std::string("an undefined tensor"));
}

// Runs body(ctx) with t's device current and its context (stream).
template <class F>
void on_device_of(const char* op, const Tensor& t, const char* name, F&& body) {
  check_on_cuda(op, t, name);
  const int dev = t.device().index;
  DeviceGuard guard(dev);
  body(Context::get(dev));
}

}  // namespace

void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, bool first_step,
              const SgdStepOptions& o, const Tensor& found_inf) {
  const char* op = "sgd_step";
  check_sgd_step_args(param, grad, momentum_buffer, o, found_inf);
  on_device_of(op, param, "the parameter", [&](Context& ctx) {
    const int64_t n = param.numel();
    dispatch_float(param.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      SgdScalars<T> s{};
      s.weight_decay = coef<T>(o.weight_decay);
      s.momentum = coef<T>(o.momentum);
      s.dampened = coef<T>(1 - o.dampening);
      s.neg_lr = coef<T>(-o.lr);
      s.use_weight_decay = o.weight_decay != 0;
      s.use_momentum = o.momentum != 0;
      s.nesterov = o.nesterov;
      s.maximize = o.maximize;
      s.first_step = first_step;
      if (n == 0) return;
      launch_sgd<T>(ptr<T>(param), ptr<const T>(grad),
                    s.use_momentum ? ptr<T>(momentum_buffer) : nullptr, n, s,
                    ptr<const float>(found_inf), ctx);
    });
  });
}

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
               Tensor& max_exp_avg_sq, Tensor& step, const AdamStepOptions& o,
               const Tensor& found_inf) {
  const char* op = "adam_step";
  check_adam_step_args(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, o, found_inf);
  on_device_of(op, param, "the parameter", [&](Context& ctx) {
    const int64_t n = param.numel();
    const float* fi = ptr<const float>(found_inf);
    dispatch_float(param.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      AdamScalars<T> s{};
      s.lr = o.lr;
      s.beta1 = o.beta1;
      s.beta2 = o.beta2;
      s.weight_decay = coef<T>(o.weight_decay);
      s.one_minus_beta2 = coef<T>(1 - o.beta2);
      s.decay = T(1 - o.lr * o.weight_decay);
      s.w1 = T(1 - o.beta1);
      s.eps = T(o.eps);
      s.beta2_t = T(o.beta2);
      s.use_weight_decay = o.weight_decay != 0;
      s.decoupled = o.decoupled_weight_decay;
      s.maximize = o.maximize;
      if (n == 0) return;
      launch_adam<T>(ptr<T>(param), ptr<const T>(grad), ptr<T>(exp_avg), ptr<T>(exp_avg_sq),
                     ptr<T>(max_exp_avg_sq), n, s, ptr<const float>(step), fi, ctx);
    });
    // After the update has read the old count (as the CPU, even for an empty parameter).
    launch_advance_step(ptr<float>(step), fi, ctx);
  });
}

void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                  Tensor& momentum_buffer, Tensor& step, const RmspropStepOptions& o,
                  const Tensor& found_inf) {
  const char* op = "rmsprop_step";
  check_rmsprop_step_args(param, grad, square_avg, grad_avg, momentum_buffer, step, o,
                          found_inf);
  on_device_of(op, param, "the parameter", [&](Context& ctx) {
    const int64_t n = param.numel();
    const float* fi = ptr<const float>(found_inf);
    dispatch_float(param.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      RmspropScalars<T> s{};
      s.weight_decay = coef<T>(o.weight_decay);
      s.one_minus_alpha = coef<T>(1 - o.alpha);
      s.neg_lr = coef<T>(-o.lr);
      s.alpha = T(o.alpha);
      s.w = T(1 - o.alpha);
      s.eps = T(o.eps);
      s.momentum = T(o.momentum);
      s.use_weight_decay = o.weight_decay != 0;
      s.maximize = o.maximize;
      if (n == 0) return;
      launch_rmsprop<T>(ptr<T>(param), ptr<const T>(grad), ptr<T>(square_avg), ptr<T>(grad_avg),
                        ptr<T>(momentum_buffer), n, s, fi, ctx);
    });
    launch_advance_step(ptr<float>(step), fi, ctx);
  });
}

void amp_unscale(Tensor& grad, const Tensor& scale, Tensor& found_inf) {
  const char* op = "amp_unscale";
  check_amp_unscale_args(grad, scale, found_inf);
  on_device_of(op, grad, "grad", [&](Context& ctx) {
    const int64_t n = grad.numel();
    dispatch_float(grad.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (n == 0) return;
      launch_amp_unscale<T>(ptr<T>(grad), n, ptr<const float>(scale), ptr<float>(found_inf), ctx);
    });
  });
}

void amp_update_scale(Tensor& scale, Tensor& growth_tracker, const Tensor& found_inf,
                      double growth_factor, double backoff_factor, int64_t growth_interval) {
  const char* op = "amp_update_scale";
  check_amp_update_scale_args(scale, growth_tracker, found_inf);
  on_device_of(op, scale, "scale", [&](Context& ctx) {
    launch_amp_update_scale(ptr<float>(scale), ptr<int64_t>(growth_tracker),
                            ptr<const float>(found_inf), growth_factor, backoff_factor,
                            growth_interval, ctx);
  });
}

}  // namespace whet::cuda
