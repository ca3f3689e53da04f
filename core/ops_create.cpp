// Creation ops: constant fills, ranges and Philox random draws.
#include <cmath>

#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

Tensor full(const Shape& s, double value, DType dt, Device d) {
  Tensor t = Tensor::empty(s, dt, d);
  kernel(d, &Backend::fill, "full")(t, value);
  return t;
}
Tensor zeros(const Shape& s, DType dt, Device d) { return full(s, 0.0, dt, d); }
Tensor ones(const Shape& s, DType dt, Device d) { return full(s, 1.0, dt, d); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }

Tensor arange(double start, double end, double step, DType dt, Device d) {
  WHET_CHECK(step != 0, "arange: step must be nonzero");
  WHET_CHECK(std::isfinite(start) && std::isfinite(end), "arange: bounds must be finite");
  double n = std::ceil((end - start) / step);
  WHET_CHECK(n >= 0, "arange: step ", step, " does not lead from ", start, " to ", end);
  Tensor t = Tensor::empty({int64_t(n)}, dt, d);
  kernel(d, &Backend::arange, "arange")(t, start, step);
  return t;
}

namespace {
Tensor draw(const char* op, const Shape& s, RandomKind kind, double a, double b, DType dt,
            Device d, Generator& g) {
  Tensor t = Tensor::empty(s, dt, d);
  uint64_t offset = g.advance(uint64_t(t.numel()));
  kernel(d, &Backend::random, op)(t, kind, a, b, g.seed(), offset);
  return t;
}
}  // namespace

Tensor uniform(const Shape& s, double low, double high, DType dt, Device d, Generator& g) {
  WHET_CHECK(is_floating(dt), "uniform: dtype must be floating, not ", dtype_name(dt));
  WHET_CHECK(low <= high, "uniform: low ", low, " is above high ", high);
  return draw("uniform", s, RandomKind::uniform, low, high, dt, d, g);
}
Tensor rand(const Shape& s, DType dt, Device d, Generator& g) {
  WHET_CHECK(is_floating(dt), "rand: dtype must be floating, not ", dtype_name(dt));
  return draw("rand", s, RandomKind::uniform, 0.0, 1.0, dt, d, g);
}
Tensor randn(const Shape& s, DType dt, Device d, Generator& g) {
  WHET_CHECK(is_floating(dt), "randn: dtype must be floating, not ", dtype_name(dt));
  return draw("randn", s, RandomKind::normal, 0.0, 1.0, dt, d, g);
}
Tensor randint(int64_t low, int64_t high, const Shape& s, DType dt, Device d, Generator& g) {
  WHET_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  WHET_CHECK(dt != DType::boolean, "randint: dtype bool is not supported");
  return draw("randint", s, RandomKind::randint, double(low), double(high), dt, d, g);
}

}  // namespace whet
