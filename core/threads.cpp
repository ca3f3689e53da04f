#include "core/threads.h"

#include <omp.h>
#include <sched.h>

#include "core/error.h"

namespace whet {

int cpu_threads() { return omp_get_max_threads(); }

void set_cpu_threads(int n) {
  WHET_CHECK(n >= 1, "set_cpu_threads: need at least one thread, got ", n);
  omp_set_num_threads(n);
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

}  // namespace whet
