// Naive references for the case tables: plain loops over host copies, written for clarity,
// independent of the kernels they check.
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"

namespace whet::opcheck {

// Row-major coordinates of flat index i in shape s, and back.
std::vector<int64_t> coords_of(int64_t i, const Shape& s);
int64_t flat_index(const std::vector<int64_t>& c, const Shape& s);

Tensor ref_map(const Tensor& x, const std::function<double(double)>& f);
// f(a, b) at every position of the broadcast shape, by coordinates.
Tensor ref_broadcast(const Tensor& a, const Tensor& b,
                     const std::function<double(double, double)>& f);
// Folds over `dims` (all when empty) with f(acc, value), from `init`; keepdim shape.
Tensor ref_fold(const Tensor& x, std::vector<int64_t> dims, double init,
                const std::function<double(double, double)>& f);
Tensor ref_matmul(const Tensor& a, const Tensor& b);  // (B, M, K) x (B, K, N), B may be absent

}  // namespace whet::opcheck
