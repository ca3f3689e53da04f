// The list of ops the engine offers, each tied to the kernel slot that implements it, so
// `whet ops` and the coverage test ask the backends instead of a hand-kept list of claims.
#pragma once
#include <string>
#include <vector>

#include "core/backend.h"

namespace whet {

struct OpInfo {
  std::string name;
  bool differentiable;
  bool (*has_kernel)(const Backend& b);
};

const std::vector<OpInfo>& op_registry();

}  // namespace whet
