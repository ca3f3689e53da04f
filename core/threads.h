// How many host threads the CPU kernels use (OpenMP's team size). By default one per core,
// or OMP_NUM_THREADS; several processes on one machine (ranks of a data-parallel run) should
// divide the cores between them rather than each start a thread per core.
#pragma once

namespace whet {

int cpu_threads();
void set_cpu_threads(int n);  // n >= 1
// The CPUs this process may run on (its affinity mask, which a launcher that binds
// processes narrows); 0 when unknown.
int usable_cpus();

}  // namespace whet
