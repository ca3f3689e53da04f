// Helpers shared by the optimizer, clipping and scaler tests: a weighted quadratic whose
// gradient is known in closed form, and comparisons.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "optim/optim.h"

namespace optim_test {

using namespace whet;
using whet::optim::NamedTensors;

using Vec = std::vector<double>;

inline const Vec kStart = {1.0, -2.0, 0.25};
inline const Vec kTarget = {0.5, -1.0, 2.0};
inline const Vec kWeight = {1.0, 0.3, 2.5};

// Gradient of sum w (p - t)^2, in double from the parameter's current values.
inline Vec quad_grad(const Vec& p) {
  Vec g(p.size());
  for (size_t i = 0; i < p.size(); ++i) g[i] = 2 * kWeight[i] * (p[i] - kTarget[i]);
  return g;
}

inline Tensor make_param(const Vec& v = kStart, DType dt = DType::f64) {
  return Tensor::from_vector<double>(v, {int64_t(v.size())}, dt).set_requires_grad();
}

inline void set_quad_grad(const Tensor& p) {
  p.set_grad(Tensor::from_vector<double>(quad_grad(p.to_vector<double>()), p.shape(), p.dtype()));
}

inline void check_close(const Vec& got, const Vec& want, double rtol = 1e-13, double atol = 1e-15) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i, ": got ", got[i], ", want ", want[i]);
    CHECK(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]));
  }
}

inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         a.to_vector<double>() == b.to_vector<double>();
}

inline bool same_state(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !bit_equal(a[i].second, b[i].second)) return false;
  return true;
}

template <class F>
inline std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}


}  // namespace optim_test
