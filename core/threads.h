// How many host threads the CPU kernels use (OpenMP's team size). By default one per core,
// or OMP_NUM_THREADS; several processes on one machine (ranks of a data-parallel run) should
// divide the cores between them rather than each start a thread per core.
#pragma once

namespace whet {

int cpu_threads();
void set_cpu_threads(int n);  // n >= 1

}  // namespace whet
