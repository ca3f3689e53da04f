// Cases for reductions, matrix products and the ops that move elements.
#include <cmath>
#include <limits>

#include "tools/opcheck/opcheck.h"
#include "tools/opcheck/reference.h"

namespace whet::opcheck {

namespace {
using Inputs = std::vector<Tensor>;

OpCase make(std::string op, std::string label, std::function<Inputs(Generator&)> in,
            std::function<Tensor(const Inputs&)> fn,
            std::function<Tensor(const Inputs&)> ref = nullptr) {
  OpCase c;
  c.op = std::move(op);
  c.label = std::move(label);
  c.inputs = std::move(in);
  c.fn = std::move(fn);
  c.reference = std::move(ref);
  return c;
}

Tensor drop_dims(const Tensor& kept, const Shape& out) { return kept.reshape(out); }

void add_reduction_cases(std::vector<OpCase>& cases) {
  const double kInf = std::numeric_limits<double>::infinity();
  struct R {
    const char* op;
    std::function<Tensor(const Tensor&, std::vector<int64_t>, bool)> fn;
    double init;
    std::function<double(double, double)> fold;
  };
  std::vector<R> reds = {
      {"sum", [](const Tensor& x, auto d, bool k) { return sum(x, d, k); }, 0.0,
       [](double a, double v) { return a + v; }},
      {"amax", [](const Tensor& x, auto d, bool k) { return amax(x, d, k); }, -kInf,
       [](double a, double v) { return std::max(a, v); }},
      {"amin", [](const Tensor& x, auto d, bool k) { return amin(x, d, k); }, kInf,
       [](double a, double v) { return std::min(a, v); }},
  };
  struct D {
    std::vector<int64_t> dims;
    bool keep;
    Shape out;
  };
  const Shape s{2, 3, 5};
  const std::vector<D> variants = {
      {{}, false, {}}, {{1}, false, {2, 5}}, {{0, 2}, true, {1, 3, 1}}, {{-1}, false, {2, 3}},
      {{0, 1}, false, {5}}};
  for (const R& r : reds) {
    for (const D& d : variants) {
      cases.push_back(make(
          r.op, "dims " + shape_str(d.dims) + (d.keep ? " keepdim" : ""),
          [s](Generator& g) { return Inputs{input(s, g)}; },
          [r, d](const Inputs& x) { return r.fn(x[0], d.dims, d.keep); },
          [r, d](const Inputs& x) { return drop_dims(ref_fold(x[0], d.dims, r.init, r.fold), d.out); }));
    }
  }
  for (const D& d : variants) {
    cases.push_back(make(
        "mean", "dims " + shape_str(d.dims) + (d.keep ? " keepdim" : ""),
        [s](Generator& g) { return Inputs{input(s, g)}; },
        [d](const Inputs& x) { return mean(x[0], d.dims, d.keep); },
        [d, s](const Inputs& x) {
          Tensor total = ref_fold(x[0], d.dims, 0.0, [](double a, double v) { return a + v; });
          double count = double(numel(s)) / double(total.numel());
          return drop_dims(ref_map(total, [count](double v) { return v / count; }), d.out);
        }));
  }
}

void add_linalg_cases(std::vector<OpCase>& cases) {
  struct M {
    Shape a, b;
  };
  for (const M& m : {M{{3, 4}, {4, 5}}, M{{2, 3, 4}, {2, 4, 2}}, M{{2, 3, 4}, {4, 1}},
                     M{{1, 1}, {1, 7}}}) {
    cases.push_back(make(
        "matmul", shape_str(m.a) + " @ " + shape_str(m.b),
        [m](Generator& g) { return Inputs{input(m.a, g), input(m.b, g)}; },
        [](const Inputs& x) { return matmul(x[0], x[1]); },
        [m](const Inputs& x) {
          if (m.b.size() == 2 && m.a.size() == 3) return ref_matmul(x[0], x[1].unsqueeze(0));
          return ref_matmul(x[0], x[1]);
        }));
  }
  cases.push_back(make(
      "matmul", "vector @ matrix @ vector",
      [](Generator& g) { return Inputs{input({3}, g), input({3, 4}, g), input({4}, g)}; },
      [](const Inputs& x) { return matmul(matmul(x[0], x[1]), x[2]); }));
  auto linear_ref = [](const Inputs& x, bool bias) {
    Tensor x2 = x[0].reshape({-1, x[0].size(-1)});
    Tensor wt = Tensor::from_vector(
        [&] {
          // W^T by coordinates
          std::vector<double> w = x[1].to_vector<double>(), t(w.size());
          int64_t o = x[1].size(0), i = x[1].size(1);
          for (int64_t r = 0; r < o; ++r)
            for (int64_t c = 0; c < i; ++c) t[size_t(c * o + r)] = w[size_t(r * i + c)];
          return t;
        }(),
        {x[1].size(1), x[1].size(0)}, DType::f64);
    Tensor y = ref_matmul(x2, wt);
    if (bias) y = ref_broadcast(y, x[2], [](double a, double b) { return a + b; });
    Shape s = x[0].shape();
    s.back() = x[1].size(0);
    return y.reshape(s);
  };
  cases.push_back(make(
      "linear", "(2, 3, 4) with bias",
      [](Generator& g) { return Inputs{input({2, 3, 4}, g), input({5, 4}, g), input({5}, g)}; },
      [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
      [linear_ref](const Inputs& x) { return linear_ref(x, true); }));
  cases.push_back(make(
      "linear", "(3, 4) no bias",
      [](Generator& g) { return Inputs{input({3, 4}, g), input({2, 4}, g)}; },
      [](const Inputs& x) { return linear(x[0], x[1]); },
      [linear_ref](const Inputs& x) { return linear_ref(x, false); }));
}

// Reference for any op that only moves elements: out[i] = x[source(i)].
Tensor ref_gather(const Tensor& x, const Shape& out,
                  const std::function<int64_t(const std::vector<int64_t>&)>& source) {
  std::vector<double> v = x.to_vector<double>(), o(size_t(numel(out)));
  for (int64_t i = 0; i < numel(out); ++i) o[size_t(i)] = v[size_t(source(coords_of(i, out)))];
  return Tensor::from_vector(o, out, DType::f64);
}

void add_movement_cases(std::vector<OpCase>& cases) {
  cases.push_back(make(
      "reshape", "(2, 3, 4) -> (4, -1)", [](Generator& g) { return Inputs{input({2, 3, 4}, g)}; },
      [](const Inputs& x) { return reshape(x[0] * 2.0, {4, -1}); }));
  cases.push_back(make(
      "reshape", "slice and index views",
      [](Generator& g) { return Inputs{input({4, 3}, g)}; },
      [](const Inputs& x) { return x[0].slice(1, 3) * 3.0 + x[0][3]; }));
  for (auto perm : {std::vector<int64_t>{2, 0, 1}, std::vector<int64_t>{0, 2, 1, 3}}) {
    Shape s = perm.size() == 3 ? Shape{2, 3, 4} : Shape{2, 3, 1, 5};
    cases.push_back(make(
        "permute", shape_str(perm), [s](Generator& g) { return Inputs{input(s, g)}; },
        [perm](const Inputs& x) { return permute(x[0], perm); },
        [perm, s](const Inputs& x) {
          Shape out;
          for (int64_t p : perm) out.push_back(s[size_t(p)]);
          return ref_gather(x[0], out, [&](const std::vector<int64_t>& c) {
            std::vector<int64_t> src(c.size());
            for (size_t k = 0; k < c.size(); ++k) src[size_t(perm[k])] = c[k];
            return flat_index(src, s);
          });
        }));
  }
  cases.push_back(make(
      "transpose", "dims 0 and -1", [](Generator& g) { return Inputs{input({3, 2, 4}, g)}; },
      [](const Inputs& x) { return transpose(x[0], 0, -1); },
      [](const Inputs& x) {
        return ref_gather(x[0], {4, 2, 3}, [](const std::vector<int64_t>& c) {
          return flat_index({c[2], c[1], c[0]}, {3, 2, 4});
        });
      }));
  for (int64_t dim : {0, 1, -1}) {
    cases.push_back(make(
        "concat", "dim " + std::to_string(dim),
        [](Generator& g) { return Inputs{input({2, 3, 2}, g), input({2, 3, 2}, g), fixed({2, 3, 2}, g)}; },
        [dim](const Inputs& x) { return concat(x, dim); },
        [dim](const Inputs& x) {
          int64_t d = dim < 0 ? dim + 3 : dim;
          Shape out{2, 3, 2};
          out[size_t(d)] *= 3;
          std::vector<std::vector<double>> parts;
          for (const Tensor& t : x) parts.push_back(t.to_vector<double>());
          std::vector<double> o(size_t(numel(out)));
          for (int64_t i = 0; i < numel(out); ++i) {
            std::vector<int64_t> c = coords_of(i, out);
            int64_t which = c[size_t(d)] / (d == 0 ? 2 : d == 1 ? 3 : 2);
            c[size_t(d)] %= (d == 0 ? 2 : d == 1 ? 3 : 2);
            o[size_t(i)] = parts[size_t(which)][size_t(flat_index(c, {2, 3, 2}))];
          }
          return Tensor::from_vector(o, out, DType::f64);
        }));
  }
  cases.push_back(make(
      "concat", "different extents along dim 1",
      [](Generator& g) { return Inputs{input({2, 1, 3}, g), input({2, 4, 3}, g)}; },
      [](const Inputs& x) { return concat(x, 1); }));
  for (int64_t dim : {0, 2}) {
    cases.push_back(make(
        "stack", "dim " + std::to_string(dim),
        [](Generator& g) { return Inputs{input({3, 2}, g), input({3, 2}, g)}; },
        [dim](const Inputs& x) { return stack(x, dim); },
        [dim](const Inputs& x) {
          Shape out = dim == 0 ? Shape{2, 3, 2} : Shape{3, 2, 2};
          std::vector<double> a = x[0].to_vector<double>(), b = x[1].to_vector<double>();
          std::vector<double> o(12);
          for (int64_t i = 0; i < 12; ++i) {
            std::vector<int64_t> c = coords_of(i, out);
            int64_t which = dim == 0 ? c[0] : c[2];
            int64_t src = dim == 0 ? c[1] * 2 + c[2] : c[0] * 2 + c[1];
            o[size_t(i)] = (which ? b : a)[size_t(src)];
          }
          return Tensor::from_vector(o, out, DType::f64);
        }));
  }
  for (auto [dim, start, len] : {std::tuple<int64_t, int64_t, int64_t>{0, 1, 2}, {1, 1, 3}, {-1, 0, 1}}) {
    cases.push_back(make(
        "narrow", "dim " + std::to_string(dim) + " [" + std::to_string(start) + ", +" +
                      std::to_string(len) + ")",
        [](Generator& g) { return Inputs{input({3, 5, 2}, g)}; },
        [dim = dim, start = start, len = len](const Inputs& x) { return narrow(x[0], dim, start, len); },
        [dim = dim, start = start, len = len](const Inputs& x) {
          int64_t d = dim < 0 ? dim + 3 : dim;
          Shape out{3, 5, 2};
          out[size_t(d)] = len;
          return ref_gather(x[0], out, [&](std::vector<int64_t> c) {
            c[size_t(d)] += start;
            return flat_index(c, {3, 5, 2});
          });
        }));
  }
  OpCase c = make(
      "cast", "float64 -> float32 -> float64",
      [](Generator& g) { return Inputs{input({3, 4}, g)}; },
      [](const Inputs& x) { return cast(cast(x[0], DType::f32) * 3.0, DType::f64); });
  c.eps = 1e-2;  // float32 rounding (~1e-7) must stay small against the step
  c.atol = 1e-4;
  cases.push_back(c);
  cases.push_back(make(
      "to_device", "cpu -> cpu", [](Generator& g) { return Inputs{input({2, 3}, g)}; },
      [](const Inputs& x) { return to_device(x[0] * 2.0, Device::cpu()); }));
}
}  // namespace

void add_tensor_cases(std::vector<OpCase>& cases) {
  add_reduction_cases(cases);
  add_linalg_cases(cases);
  add_movement_cases(cases);
}

}  // namespace whet::opcheck
