// One way to split a loop across host threads (OpenMP), with a grain below which the loop
// stays serial because thread start-up would cost more than the work.
#pragma once
#include <omp.h>

#include <cstdint>

namespace whet::cpu {

// The threads a parallel loop may use.
inline int max_threads() { return omp_get_max_threads(); }

// n large tasks across threads; f(i, slot) also gets the slot of the thread running it
// (0 .. max_threads() - 1), for per-thread scratch memory.
template <class F>
void parallel_tasks(int64_t n, F&& f) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) f(i, omp_get_thread_num());
}

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
