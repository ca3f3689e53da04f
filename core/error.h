// whet::Error and the checks that throw it. Every misuse reachable from the public API ends
// here, with a message naming the op and the shapes, never in an abort.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace whet {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace whet

// WHET_CHECK(cond, "conv2d: input ", shape, " must be 4-D") throws whet::Error when cond fails.
#define WHET_CHECK(cond, ...) \
  do {                        \
    if (!(cond)) throw ::whet::Error(::whet::detail::cat(__VA_ARGS__)); \
  } while (0)

#define WHET_FAIL(...) throw ::whet::Error(::whet::detail::cat(__VA_ARGS__))
