#include "core/device.h"

#include "core/error.h"

namespace whet {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    std::string n = s.substr(5);
    WHET_CHECK(!n.empty() && n.find_first_not_of("0123456789") == std::string::npos,
               "invalid device '", s, "' (expected cpu, cuda or cuda:N)");
    return cuda(std::stoi(n));
  }
  WHET_FAIL("invalid device '", s, "' (expected cpu, cuda or cuda:N)");
}

std::string Device::str() const {
  return is_cpu() ? "cpu" : "cuda:" + std::to_string(index);
}

}  // namespace whet
