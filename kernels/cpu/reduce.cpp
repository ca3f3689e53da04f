// Reductions over the middle axis of x viewed as (outer, R, inner).
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/parallel.h"

namespace whet::cpu {

namespace {
// Sums accumulate in double (int64 for integers) so float32 results do not depend on R.
template <class T>
using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_integral_v<T>) return false;
  else return std::isnan(double(v));
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner,
                  Tensor& out) {
  const T* px = x.data<T>();
  bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  bool want_max = op == ReduceOp::max || op == ReduceOp::argmax;
  T* po = arg ? nullptr : out.data<T>();
  int64_t* pi = arg ? out.data<int64_t>() : nullptr;
  parallel_for(outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, r * inner)),
               [&](int64_t o) {
    const T* base = px + o * r * inner;
    if (op == ReduceOp::sum || op == ReduceOp::mean) {
      std::vector<Acc<T>> acc(size_t(inner), Acc<T>(0));
      for (int64_t k = 0; k < r; ++k) {
        const T* row = base + k * inner;
        for (int64_t j = 0; j < inner; ++j) acc[size_t(j)] += Acc<T>(row[j]);
      }
      for (int64_t j = 0; j < inner; ++j) {
        Acc<T> v = acc[size_t(j)];
        if (op == ReduceOp::mean) v = r ? v / Acc<T>(r) : Acc<T>(NAN);
        po[o * inner + j] = cast_value<T>(v);
      }
      return;
    }
    // max/min and their arg forms: NaN wins, as in PyTorch; ties keep the first index.
    for (int64_t j = 0; j < inner; ++j) {
      T best = base[j];
      int64_t best_k = 0;
      for (int64_t k = 1; k < r && !is_nan(best); ++k) {
        T v = base[k * inner + j];
        bool better = is_nan(v) || (want_max ? double(v) > double(best) : double(v) < double(best));
        if (better) best = v, best_k = k;
      }
      if (arg) pi[o * inner + j] = best_k;
      else po[o * inner + j] = best;
    }
  });
}
}  // namespace

void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t r, int64_t inner, Tensor& out) {
  dispatch<DTypeSet::numeric>(x.dtype(), reduce_op_name(op), [&](auto tag) {
    reduce_typed<typename decltype(tag)::type>(op, x, outer, r, inner, out);
  });
}

}  // namespace whet::cpu
