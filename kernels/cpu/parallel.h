// One way to split a loop across host threads (OpenMP), with a grain below which the loop
// stays serial because thread start-up would cost more than the work.
#pragma once
#include <cstdint>

namespace whet::cpu {

template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n < grain * 2) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace whet::cpu
