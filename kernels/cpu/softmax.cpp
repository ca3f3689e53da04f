// Softmax and log-softmax over x viewed as (outer, D, inner), and the fused cross-entropy
// (log-softmax + NLL) over logits (N, C). Every exponential is taken after subtracting the
// maximum, so logits in the thousands neither overflow nor lose the small terms.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {
// Lanes along `inner` processed together: the loops over D then read rows of this many
// contiguous elements instead of striding by `inner` one element at a time.
constexpr int64_t kLanes = 256;

// Calls f(o, i0, i1) for every outer index o and block [i0, i1) of inner lanes, in parallel.
template <class F>
void for_each_block(int64_t outer, int64_t d, int64_t inner, F f) {
  int64_t blocks = (inner + kLanes - 1) / kLanes;
  int64_t work = std::max<int64_t>(d * std::min(inner, kLanes), 1);
  parallel_for(outer * blocks, std::max<int64_t>(1, 4096 / work), [&](int64_t t) {
    int64_t o = t / blocks, i0 = (t % blocks) * kLanes;
    f(o, i0, std::min(inner, i0 + kLanes));
  });
}

template <class T>
void softmax_typed(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& y) {
  const T* px = x.data<T>();  // (outer, D, inner)
  T* py = y.data<T>();        // (outer, D, inner)
  for_each_block(outer, d, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t lanes = i1 - i0;
    const T* xb = px + o * d * inner + i0;
    T* yb = py + o * d * inner + i0;
    T mx[kLanes];
    double sum[kLanes];
    std::fill(mx, mx + lanes, -std::numeric_limits<T>::infinity());
    std::fill(sum, sum + lanes, 0.0);
    for (int64_t k = 0; k < d; ++k)
      for (int64_t l = 0; l < lanes; ++l) mx[l] = std::max(mx[l], xb[k * inner + l]);
    for (int64_t k = 0; k < d; ++k) {
      for (int64_t l = 0; l < lanes; ++l) {
        T e = std::exp(xb[k * inner + l] - mx[l]);
        sum[l] += double(e);
        if (!log) yb[k * inner + l] = e;
      }
    }
    for (int64_t l = 0; l < lanes; ++l) {
      if (log) {
        T shift = mx[l] + T(std::log(sum[l]));
        for (int64_t k = 0; k < d; ++k) yb[k * inner + l] = xb[k * inner + l] - shift;
      } else {
        T r = T(1.0 / sum[l]);
        for (int64_t k = 0; k < d; ++k) yb[k * inner + l] *= r;
      }
    }
  });
}

// softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy).
template <class T>
void softmax_backward_typed(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d,
                            int64_t inner, bool log, Tensor& gx) {
  const T* py = y.data<T>();   // (outer, D, inner)
  const T* pg = gy.data<T>();  // (outer, D, inner)
  T* po = gx.data<T>();        // (outer, D, inner)
  for_each_block(outer, d, inner, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t lanes = i1 - i0, base = o * d * inner + i0;
    double dot[kLanes];
    std::fill(dot, dot + lanes, 0.0);
    for (int64_t k = 0; k < d; ++k) {
      for (int64_t l = 0; l < lanes; ++l) {
        int64_t at = base + k * inner + l;
        dot[l] += log ? double(pg[at]) : double(pg[at]) * double(py[at]);
      }
    }
    for (int64_t k = 0; k < d; ++k) {
      for (int64_t l = 0; l < lanes; ++l) {
        int64_t at = base + k * inner + l;
        T s = T(dot[l]);
        po[at] = log ? pg[at] - std::exp(py[at]) * s : py[at] * (pg[at] - s);
      }
    }
  });
}

// Targets are checked before any work so the parallel loops below never throw.
void check_targets(const int64_t* t, int64_t n, int64_t c, const CrossEntropyOptions& o) {
  for (int64_t i = 0; i < n; ++i) {
    WHET_CHECK(t[i] == o.ignore_index || (t[i] >= 0 && t[i] < c), "cross_entropy: target ", t[i],
               " at index ", i, " is out of bounds for ", c, " classes (ignore_index ",
               o.ignore_index, ")");
  }
}

// Per sample i with target t, weights w (1 when absent), logp = logits - lse, eps = smoothing:
//   loss_i = (1 - eps) * w_t * (-logp_t) + eps / C * sum_c w_c * (-logp_c)
// which is torch.nn.functional.cross_entropy's label-smoothed loss; the mean divides by
// sum_i w_t over the samples not ignored, as PyTorch does with and without smoothing.
template <class T>
void cross_entropy_typed(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                         const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum,
                         Tensor& lse) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const T* pz = logits.data<T>();                                           // (N, C)
  const int64_t* pt = target.data<int64_t>();                               // (N)
  const T* pw = class_weight.defined() ? class_weight.data<T>() : nullptr;  // (C)
  T* pl = losses.data<T>();                                                 // (N)
  T* ps = lse.data<T>();                                                    // (N)
  check_targets(pt, n, c, o);
  const double eps = o.label_smoothing;

  parallel_for(n, std::max<int64_t>(1, 4096 / std::max<int64_t>(c, 1)), [&](int64_t i) {
    const T* z = pz + i * c;
    T mx = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < c; ++j) mx = std::max(mx, z[j]);
    double sum = 0;
    for (int64_t j = 0; j < c; ++j) sum += double(std::exp(z[j] - mx));
    const double s = double(mx) + std::log(sum);
    ps[i] = T(s);
    if (pt[i] == o.ignore_index) {
      pl[i] = T(0);
      return;
    }
    const int64_t t = pt[i];
    double loss = (1 - eps) * (pw ? double(pw[t]) : 1.0) * (s - double(z[t]));
    if (eps > 0) {
      double smooth = 0;
      for (int64_t j = 0; j < c; ++j) smooth += (pw ? double(pw[j]) : 1.0) * (s - double(z[j]));
      loss += eps / double(c) * smooth;
    }
    pl[i] = T(loss);
  });

  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (pt[i] != o.ignore_index) total += pw ? double(pw[pt[i]]) : 1.0;
  weight_sum.data<T>()[0] = T(total);
}

// d loss_i / d z_j = p_j * ((1 - eps) * w_t + eps / C * sum_c w_c) - (1 - eps) * w_t * [j == t]
//                    - eps / C * w_j,   with p = softmax(z), scaled by glosses_i.
template <class T>
void cross_entropy_backward_typed(const Tensor& logits, const Tensor& target,
                                  const Tensor& class_weight, const CrossEntropyOptions& o,
                                  const Tensor& lse, const Tensor& glosses, Tensor& glogits) {
  const int64_t n = logits.size(0), c = logits.size(1);
  const T* pz = logits.data<T>();                                           // (N, C)
  const int64_t* pt = target.data<int64_t>();                               // (N)
  const T* pw = class_weight.defined() ? class_weight.data<T>() : nullptr;  // (C)
  const T* ps = lse.data<T>();                                              // (N)
  const T* pgl = glosses.data<T>();                                         // (N)
  T* pg = glogits.data<T>();                                                // (N, C)
  const double eps = o.label_smoothing, eps_c = c ? eps / double(c) : 0.0;
  double w_total = double(c);
  if (pw) {
    w_total = 0;
    for (int64_t j = 0; j < c; ++j) w_total += double(pw[j]);
  }

  parallel_for(n, std::max<int64_t>(1, 4096 / std::max<int64_t>(c, 1)), [&](int64_t i) {
    T* g = pg + i * c;
    if (pt[i] == o.ignore_index) {
      std::fill(g, g + c, T(0));
      return;
    }
    const T* z = pz + i * c;
    const int64_t t = pt[i];
    const double gl = double(pgl[i]), s = double(ps[i]);
    const double w_t = (1 - eps) * (pw ? double(pw[t]) : 1.0);
    const double k = w_t + eps_c * w_total;
    for (int64_t j = 0; j < c; ++j) {
      double p = std::exp(double(z[j]) - s);
      double v = p * k - eps_c * (pw ? double(pw[j]) : 1.0) - (j == t ? w_t : 0.0);
      g[j] = T(gl * v);
    }
  });
}
}  // namespace

void softmax(const Tensor& x, int64_t outer, int64_t d, int64_t inner, bool log, Tensor& y) {
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_typed<T>(x, outer, d, inner, log, y);
  });
}

void softmax_backward(const Tensor& y, const Tensor& gy, int64_t outer, int64_t d, int64_t inner,
                      bool log, Tensor& gx) {
  dispatch_float(y.dtype(), log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_typed<T>(y, gy, outer, d, inner, log, gx);
  });
}

void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                   const CrossEntropyOptions& o, Tensor& losses, Tensor& weight_sum, Tensor& lse) {
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_typed<T>(logits, target, class_weight, o, losses, weight_sum, lse);
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& class_weight,
                            const CrossEntropyOptions& o, const Tensor& lse, const Tensor& glosses,
                            Tensor& glogits) {
  dispatch_float(logits.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_backward_typed<T>(logits, target, class_weight, o, lse, glosses, glogits);
  });
}

}  // namespace whet::cpu
