#include "tools/opcheck/opcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"

namespace whet::opcheck {

Tensor input(const Shape& s, Generator& g, double lo, double hi) {
  return uniform(s, lo, hi, DType::f64, Device::cpu(), g).set_requires_grad(true);
}
Tensor fixed(const Shape& s, Generator& g, double lo, double hi) {
  return uniform(s, lo, hi, DType::f64, Device::cpu(), g);
}

CheckResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (actual.shape() != expected.shape())
    return {false, "shape " + shape_str(actual.shape()) + " != expected " +
                       shape_str(expected.shape())};
  std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  double worst = 0;
  size_t worst_i = 0;
  bool ok = true;
  for (size_t i = 0; i < a.size(); ++i) {
    double err = std::abs(a[i] - e[i]), allowed = atol + rtol * std::abs(e[i]);
    bool bad = !(err <= allowed) && !(std::isnan(a[i]) && std::isnan(e[i]));
    if (bad && (ok || err - allowed > worst)) worst = err - allowed, worst_i = i;
    ok = ok && !bad;
  }
  if (ok) return {};
  std::ostringstream os;
  os.precision(10);
  os << "element " << worst_i << ": got " << a[worst_i] << ", expected " << e[worst_i]
     << " (rtol " << rtol << ", atol " << atol << ")";
  return {false, os.str()};
}

namespace {
// sum(y * w) as a plain number, for the finite differences.
double weighted_sum(const Tensor& y, const std::vector<double>& w) {
  std::vector<double> v = y.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * w[i];
  return s;
}
}  // namespace

CheckResult gradcheck(const OpCase& c, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> xs = c.inputs(gen);
  Tensor y = c.fn(xs);
  if (!y.requires_grad()) return {false, "output does not require grad: nothing to check"};
  Tensor w = uniform(y.shape(), -1.0, 1.0, DType::f64, Device::cpu(), gen);
  std::vector<double> wv = w.to_vector<double>();
  sum(y * w).backward();

  NoGradGuard no_grad;
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor& x = xs[i];
    if (!x.defined() || !x.requires_grad() || x.dtype() != DType::f64) continue;
    if (!x.grad().defined()) return {false, "input " + std::to_string(i) + " got no gradient"};
    std::vector<double> analytic = x.grad().to_vector<double>();
    double* p = x.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      double orig = p[j];
      p[j] = orig + c.eps;
      double fp = weighted_sum(c.fn(xs), wv);
      p[j] = orig - c.eps;
      double fm = weighted_sum(c.fn(xs), wv);
      p[j] = orig;
      double numeric = (fp - fm) / (2 * c.eps), a = analytic[size_t(j)];
      if (!(std::abs(a - numeric) <= c.atol + c.rtol * std::abs(numeric))) {
        std::ostringstream os;
        os.precision(10);
        os << "input " << i << " element " << j << ": analytic " << a << ", numeric " << numeric;
        return {false, os.str()};
      }
    }
  }
  return {};
}

CheckResult forward_check(const OpCase& c, uint64_t seed) {
  if (!c.reference) return {};
  Generator gen(seed);
  std::vector<Tensor> xs = c.inputs(gen);
  NoGradGuard no_grad;
  return all_close(c.fn(xs), c.reference(xs), 1e-7, 1e-9);
}

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> all;
    add_elementwise_cases(all);
    add_tensor_cases(all);
    add_conv_pool_cases(all);
    add_norm_softmax_cases(all);
    return all;
  }();
  return cases;
}

bool has_gradcheck_case(const std::string& op) {
  for (const OpCase& c : op_cases())
    if (c.op == op) return true;
  return false;
}

}  // namespace whet::opcheck
