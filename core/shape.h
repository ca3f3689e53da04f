// Shapes: a vector of extents, row-major, with the helpers every op needs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace whet {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s);
// numel, or an error naming `op` when an extent is negative or the product overflows int64.
int64_t checked_numel(const Shape& s, const char* op);
std::string shape_str(const Shape& s);  // "(2, 3, 4)"
// Normalises a possibly negative dim against rank `rank`; throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when they do not match.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace whet
