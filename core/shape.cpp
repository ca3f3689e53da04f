#include "core/shape.h"

#include "core/error.h"

namespace whet {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

int64_t checked_numel(const Shape& s, const char* op) {
  int64_t n = 1;
  for (int64_t d : s) {
    WHET_CHECK(d >= 0, op, ": negative extent in shape ", shape_str(s));
    WHET_CHECK(!__builtin_mul_overflow(n, d, &n), op, ": shape ", shape_str(s),
               " has more elements than fit in int64");
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t lo = rank == 0 ? -1 : -rank, hi = rank == 0 ? 0 : rank - 1;
  WHET_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " out of range for a ", rank,
             "-D tensor");
  return dim < 0 ? dim + (rank == 0 ? 1 : rank) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    WHET_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ",
               shape_str(b), " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace whet
