// Op cases for batch_norm, softmax, log_softmax, dropout and cross_entropy. The references
// below are deliberately naive (plain loops over host vectors in double) so they share no code
// with the kernels they check.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "tools/opcheck/opcheck.h"

namespace whet::opcheck {

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) {
  return Tensor::from_vector(v, s, DType::f64);
}

// ---- batch_norm ----

// x (M, C) channels last; running stats used when given and not training.
Tensor ref_batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm,
                      const Tensor& rv, bool training, double eps) {
  std::vector<double> xs = x.to_vector<double>(), y(xs.size());
  const int64_t c = x.size(-1), m = x.numel() / c;
  for (int64_t j = 0; j < c; ++j) {
    double mean = 0, var = 0;
    if (training || !rm.defined()) {
      for (int64_t i = 0; i < m; ++i) mean += xs[size_t(i * c + j)];
      mean /= double(m);
      for (int64_t i = 0; i < m; ++i) {
        double d = xs[size_t(i * c + j)] - mean;
        var += d * d;
      }
      var /= double(m);
    } else {
      mean = rm.to_vector<double>()[size_t(j)];
      var = rv.to_vector<double>()[size_t(j)];
    }
    double wj = w.defined() ? w.to_vector<double>()[size_t(j)] : 1.0;
    double bj = b.defined() ? b.to_vector<double>()[size_t(j)] : 0.0;
    for (int64_t i = 0; i < m; ++i) {
      size_t at = size_t(i * c + j);
      y[at] = (xs[at] - mean) / std::sqrt(var + eps) * wj + bj;
    }
  }
  return f64(y, x.shape());
}

struct BatchNormSpec {
  std::string label;
  Shape shape;
  bool training, affine, running;
};

// The case table's checker walks every input, so undefined tensors (no affine, no running
// stats) are left out of the input list and rebuilt here: (x, [w, b], [rm, rv]).
struct BatchNormArgs {
  Tensor x, w, b, rm, rv;
};
BatchNormArgs unpack(const BatchNormSpec& s, const std::vector<Tensor>& in) {
  BatchNormArgs a{in[0], {}, {}, {}, {}};
  size_t i = 1;
  if (s.affine) a.w = in[i++], a.b = in[i++];
  if (s.running) a.rm = in[i++], a.rv = in[i++];
  return a;
}

void add_batch_norm(std::vector<OpCase>& cases, const BatchNormSpec& s) {
  const int64_t c = s.shape.back();
  OpCase oc;
  oc.op = "batch_norm";
  oc.label = s.label;
  oc.inputs = [s, c](Generator& g) {
    std::vector<Tensor> in{input(s.shape, g, -2.0, 2.0)};
    if (s.affine) in.push_back(input({c}, g, 0.5, 1.5)), in.push_back(input({c}, g));
    if (s.running) in.push_back(fixed({c}, g, -0.5, 0.5)), in.push_back(fixed({c}, g, 0.5, 1.5));
    return in;
  };
  // Training updates the running statistics in place; copies keep repeated calls identical.
  oc.fn = [s](const std::vector<Tensor>& in) {
    BatchNormArgs a = unpack(s, in);
    Tensor rm = a.rm.defined() ? a.rm.clone() : Tensor();
    Tensor rv = a.rv.defined() ? a.rv.clone() : Tensor();
    return batch_norm(a.x, a.w, a.b, rm, rv, s.training);
  };
  oc.reference = [s](const std::vector<Tensor>& in) {
    BatchNormArgs a = unpack(s, in);
    return ref_batch_norm(a.x, a.w, a.b, a.rm, a.rv, s.training, 1e-5);
  };
  cases.push_back(oc);
}

// ---- softmax / log_softmax ----

Tensor ref_softmax(const Tensor& x, int64_t dim, bool log) {
  std::vector<double> xs = x.to_vector<double>(), y(xs.size());
  const int64_t rank = x.dim(), d = dim < 0 ? dim + rank : dim;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < rank; ++i) inner *= x.size(i);
  const int64_t n = x.size(d);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return size_t((o * n + k) * inner + i); };
      double total = 0;
      for (int64_t k = 0; k < n; ++k) total += std::exp(xs[at(k)]);
      for (int64_t k = 0; k < n; ++k)
        y[at(k)] = log ? xs[at(k)] - std::log(total) : std::exp(xs[at(k)]) / total;
    }
  }
  return f64(y, x.shape());
}

void add_softmax(std::vector<OpCase>& cases, bool log, int64_t dim) {
  OpCase oc;
  oc.op = log ? "log_softmax" : "softmax";
  oc.label = "(2, 3, 4), dim " + std::to_string(dim);
  oc.inputs = [](Generator& g) { return std::vector<Tensor>{input({2, 3, 4}, g, -3.0, 3.0)}; };
  oc.fn = [log, dim](const std::vector<Tensor>& in) {
    return log ? log_softmax(in[0], dim) : softmax(in[0], dim);
  };
  oc.reference = [log, dim](const std::vector<Tensor>& in) { return ref_softmax(in[0], dim, log); };
  cases.push_back(oc);
}

// ---- dropout ----

// The contract of Backend::dropout_mask: element i keeps when its Philox uniform >= p.
Tensor ref_dropout(const Tensor& x, double p, uint64_t seed) {
  std::vector<double> xs = x.to_vector<double>(), y(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    bool keep = philox_uniform(philox4x32_10(seed, i)) >= p;
    y[i] = keep ? xs[i] / (1 - p) : 0.0;
  }
  return f64(y, x.shape());
}

void add_dropout(std::vector<OpCase>& cases) {
  constexpr uint64_t kSeed = 2024;
  OpCase oc;
  oc.op = "dropout";
  oc.label = "p 0.3, training";
  oc.inputs = [](Generator& g) { return std::vector<Tensor>{input({4, 5, 6}, g)}; };
  // A generator of its own, seeded per call, so every forward draws the same mask.
  oc.fn = [](const std::vector<Tensor>& in) {
    Generator g(kSeed);
    return dropout(in[0], 0.3, true, g);
  };
  oc.reference = [](const std::vector<Tensor>& in) { return ref_dropout(in[0], 0.3, kSeed); };
  cases.push_back(oc);

  oc.label = "p 0.5, eval (identity)";
  oc.fn = [](const std::vector<Tensor>& in) {
    Generator g(kSeed);
    return dropout(in[0], 0.5, false, g);
  };
  oc.reference = [](const std::vector<Tensor>& in) { return in[0].clone(); };
  cases.push_back(oc);
}

// ---- cross_entropy ----

// torch.nn.functional.cross_entropy with class indices, written from its definition:
// loss_i = (1-eps) * w_t * (-logp_t) + eps/C * sum_c w_c * (-logp_c); mean divides by the sum
// of w_t over the samples not ignored.
Tensor ref_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                         const CrossEntropyOptions& o) {
  std::vector<double> z = logits.to_vector<double>();
  std::vector<int64_t> t = target.to_vector<int64_t>();
  const int64_t n = logits.size(0), c = logits.size(1);
  std::vector<double> w(size_t(c), 1.0);
  if (weight.defined()) w = weight.to_vector<double>();
  std::vector<double> losses(size_t(n), 0.0);
  double total = 0, weight_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (t[size_t(i)] == o.ignore_index) continue;
    double lse = 0;
    for (int64_t j = 0; j < c; ++j) lse += std::exp(z[size_t(i * c + j)]);
    lse = std::log(lse);
    auto nlogp = [&](int64_t j) { return lse - z[size_t(i * c + j)]; };
    const int64_t ti = t[size_t(i)];
    double smooth = 0;
    for (int64_t j = 0; j < c; ++j) smooth += w[size_t(j)] * nlogp(j);
    double eps = o.label_smoothing;
    losses[size_t(i)] = (1 - eps) * w[size_t(ti)] * nlogp(ti) + eps / double(c) * smooth;
    total += losses[size_t(i)];
    weight_sum += w[size_t(ti)];
  }
  switch (o.reduction) {
    case Reduction::none:
      return f64(losses, {n});
    case Reduction::sum:
      return f64({total}, {});
    case Reduction::mean:
      break;
  }
  return f64({total / weight_sum}, {});
}

struct CrossEntropySpec {
  std::string label;
  std::vector<int64_t> target;
  CrossEntropyOptions options;
  bool weighted;
};

void add_cross_entropy(std::vector<OpCase>& cases, const CrossEntropySpec& s) {
  constexpr int64_t kClasses = 4;
  const int64_t n = int64_t(s.target.size());
  OpCase oc;
  oc.op = "cross_entropy";
  oc.label = s.label;
  // (logits, target[, class_weight]): the checker walks every input, so none is undefined.
  oc.inputs = [s, n](Generator& g) {
    std::vector<Tensor> in{input({n, kClasses}, g, -2.0, 2.0),
                           Tensor::from_vector<int64_t>(s.target, {n})};
    if (s.weighted) in.push_back(fixed({kClasses}, g, 0.5, 2.0));
    return in;
  };
  oc.fn = [s](const std::vector<Tensor>& in) {
    return cross_entropy(in[0], in[1], s.options, in.size() > 2 ? in[2] : Tensor());
  };
  oc.reference = [s](const std::vector<Tensor>& in) {
    return ref_cross_entropy(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), s.options);
  };
  cases.push_back(oc);
}

CrossEntropyOptions ce(Reduction r, long ignore_index = -100, double smoothing = 0.0) {
  CrossEntropyOptions o;
  o.reduction = r;
  o.ignore_index = ignore_index;
  o.label_smoothing = smoothing;
  return o;
}

}  // namespace

void add_norm_softmax_cases(std::vector<OpCase>& cases) {
  add_batch_norm(
      cases,
      {"training, (2, 3, 2, 5) NHWC, affine, running stats", {2, 3, 2, 5}, true, true, true});
  add_batch_norm(cases,
                 {"training, (6, 3), no affine, no running stats", {6, 3}, true, false, false});
  add_batch_norm(cases, {"training, (1, 3, 3, 7), affine", {1, 3, 3, 7}, true, true, false});
  add_batch_norm(cases, {"eval, (2, 2, 3, 3) NHWC, affine", {2, 2, 3, 3}, false, true, true});
  add_batch_norm(cases, {"eval, (4, 7), no affine", {4, 7}, false, false, true});
  add_batch_norm(cases,
                 {"eval without running stats uses the batch, (5, 3)", {5, 3}, false, true, false});

  for (bool log : {false, true})
    for (int64_t dim : {0, 1, -1}) add_softmax(cases, log, dim);

  add_dropout(cases);

  const std::vector<int64_t> t{0, 3, 1, 2, 3};
  const std::vector<int64_t> t_ignored{0, 3, -100, 2, 1};
  const std::vector<int64_t> t_ignore_one{0, 1, 3, 1, 2};
  add_cross_entropy(cases, {"mean", t, ce(Reduction::mean), false});
  add_cross_entropy(cases, {"sum", t, ce(Reduction::sum), false});
  add_cross_entropy(cases, {"none", t, ce(Reduction::none), false});
  add_cross_entropy(cases, {"class weights, mean", t, ce(Reduction::mean), true});
  add_cross_entropy(cases, {"class weights, none", t, ce(Reduction::none), true});
  add_cross_entropy(cases, {"ignore_index -100, mean", t_ignored, ce(Reduction::mean), false});
  add_cross_entropy(cases,
                    {"ignore_index 1, weights, mean", t_ignore_one, ce(Reduction::mean, 1), true});
  add_cross_entropy(cases, {"label_smoothing 0.1, mean", t, ce(Reduction::mean, -100, 0.1), false});
  add_cross_entropy(cases, {"weights + label_smoothing 0.1 + ignore, mean", t_ignored,
                            ce(Reduction::mean, -100, 0.1), true});
  add_cross_entropy(cases,
                    {"weights + label_smoothing 0.1, sum", t, ce(Reduction::sum, -100, 0.1), true});
  add_cross_entropy(cases, {"weights + label_smoothing 0.1, none", t_ignored,
                            ce(Reduction::none, -100, 0.1), true});
}

}  // namespace whet::opcheck
