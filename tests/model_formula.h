// The formula that fills every state-dict entry of a model-parity fixture on both sides
// (stated in tools/golden/make_model_fixtures.py, and computed identically here), so that
// fixtures of whole networks need not store their weights.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/autograd.h"
#include "nn/module.h"

namespace whet::golden {

inline uint32_t fnv1a32(const std::string& s) {
  uint32_t h = 0x811C9DC5u;
  for (unsigned char c : s) h = (h ^ c) * 0x01000193u;
  return h;
}

// u in [-1, 1) for element i of the entry whose name hashes to name_hash.
inline double unit(uint32_t name_hash, uint64_t i) {
  uint32_t x = name_hash + uint32_t(i) * 0x9E3779B9u;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return double(x >> 8) / 8388608.0 - 1.0;  // / 2^23
}

// (a, b) of value = a + b * u for an entry of PyTorch shape `shape`.
inline std::pair<double, double> scale_of(const std::string& name, const Shape& shape) {
  const std::string leaf = name.substr(name.rfind('.') + 1);
  if (name == "input") return {0.0, 1.0};
  if (leaf == "weight" && shape.size() >= 2)
    return {0.0, std::sqrt(3.0 / double(numel(shape) / shape[0]))};
  if (leaf == "weight") return {1.0, 0.2};
  if (leaf == "bias" || leaf == "running_mean") return {0.0, 0.1};
  if (leaf == "running_var") return {1.0, 0.5};
  FAIL("no formula for ", name);
  return {0.0, 0.0};
}

// The entry's values in PyTorch's layout and shape.
inline Tensor formula(const std::string& name, const Shape& shape) {
  auto [a, b] = scale_of(name, shape);
  const uint32_t h = fnv1a32(name);
  std::vector<float> v(size_t(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(a + b * unit(h, i));
  return Tensor::from_vector(v, shape);
}

inline bool is_batch_counter(const std::string& name) {
  return name.size() >= 19 && name.compare(name.size() - 19, 19, "num_batches_tracked") == 0;
}

// (O, KH, KW, I) <-> (O, I, KH, KW) and NHWC <-> NCHW: PyTorch shape of one of our tensors.
inline Shape pytorch_shape(const Tensor& t) {
  const Shape& s = t.shape();
  return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s;
}

// Every entry of m's state dict but the batch counters, from the formula.
inline void fill_formula(nn::Module& m) {
  NoGradGuard no_grad;
  for (auto& [name, t] : m.state_dict()) {
    if (is_batch_counter(name)) continue;
    Tensor v = formula(name, pytorch_shape(t));
    t.copy_(t.dim() == 4 ? permute(v, {0, 2, 3, 1}) : v);
  }
}

}  // namespace whet::golden
