#include "tools/opcheck/reference.h"

#include <algorithm>

namespace whet::opcheck {

std::vector<int64_t> coords_of(int64_t i, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = i % s[d];
    i /= s[d];
  }
  return c;
}

int64_t flat_index(const std::vector<int64_t>& c, const Shape& s) {
  int64_t i = 0;
  for (size_t d = 0; d < s.size(); ++d) i = i * s[d] + c[d];
  return i;
}

Tensor ref_map(const Tensor& x, const std::function<double(double)>& f) {
  std::vector<double> v = x.to_vector<double>();
  for (double& e : v) e = f(e);
  return Tensor::from_vector(v, x.shape(), DType::f64);
}

Tensor ref_broadcast(const Tensor& a, const Tensor& b,
                     const std::function<double(double, double)>& f) {
  Shape s = broadcast_shapes(a.shape(), b.shape(), "reference");
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> out(size_t(numel(s)));
  auto pick = [&](const std::vector<double>& v, const Shape& vs, const std::vector<int64_t>& c) {
    std::vector<int64_t> cc(vs.size());
    for (size_t d = 0; d < vs.size(); ++d) {
      int64_t oc = c[c.size() - vs.size() + d];
      cc[d] = vs[d] == 1 ? 0 : oc;
    }
    return v[size_t(flat_index(cc, vs))];
  };
  for (int64_t i = 0; i < numel(s); ++i) {
    std::vector<int64_t> c = coords_of(i, s);
    out[size_t(i)] = f(pick(va, a.shape(), c), pick(vb, b.shape(), c));
  }
  return Tensor::from_vector(out, s, DType::f64);
}

Tensor ref_fold(const Tensor& x, std::vector<int64_t> dims, double init,
                const std::function<double(double, double)>& f) {
  if (dims.empty())
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  Shape ks = x.shape();
  for (int64_t& d : dims) {
    if (d < 0) d += x.dim();
    ks[size_t(d)] = 1;
  }
  std::vector<double> v = x.to_vector<double>(), out(size_t(numel(ks)), init);
  for (int64_t i = 0; i < x.numel(); ++i) {
    std::vector<int64_t> c = coords_of(i, x.shape());
    for (int64_t d : dims) c[size_t(d)] = 0;
    double& acc = out[size_t(flat_index(c, ks))];
    acc = f(acc, v[size_t(i)]);
  }
  return Tensor::from_vector(out, ks, DType::f64);
}

Tensor ref_matmul(const Tensor& a, const Tensor& b) {
  bool batched = a.dim() == 3;
  int64_t B = batched ? a.size(0) : 1, M = a.size(-2), K = a.size(-1), N = b.size(-1);
  int64_t Bb = b.dim() == 3 ? b.size(0) : 1;
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> out(size_t(B * M * N), 0.0);
  for (int64_t z = 0; z < B; ++z)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += va[size_t((z * M + i) * K + k)] * vb[size_t(((Bb == 1 ? 0 : z) * K + k) * N + j)];
        out[size_t((z * M + i) * N + j)] = s;
      }
  return Tensor::from_vector(out, batched ? Shape{B, M, N} : Shape{M, N}, DType::f64);
}

}  // namespace whet::opcheck
