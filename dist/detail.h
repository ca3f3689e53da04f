// dist/ internals shared by its sources and its tests; not part of the API.
#pragma once
#include <climits>
#include <cstdint>
#include <memory>

#include "dist/communicator.h"

namespace whet::dist::detail {

// MPI counts are int: a collective moves at most this many elements per MPI call.
inline constexpr int64_t kMaxChunkElements = INT_MAX / 2;

// The number of ranks a launcher announced in the environment (OMPI_COMM_WORLD_SIZE from
// Open MPI, PMI_SIZE from MPICH/Hydra and Intel MPI, MV2_COMM_WORLD_SIZE from MVAPICH), or 0
// when none did.
int launcher_world_size();

// Throws unless t is defined and float32, float64 or int64: the dtypes every Communicator
// carries (so code tested on single_process() runs unchanged under MPI).
void check_collective_arg(const Tensor& t, const char* op);

// A group over MPI_COMM_WORLD (starting MPI when needed) whose collectives split tensors
// into pieces of at most max_chunk_elements: world() uses kMaxChunkElements, the tests a
// small value. Collective: every rank must call it. Defined only in builds with MPI.
std::shared_ptr<Communicator> make_mpi_communicator(int64_t max_chunk_elements = kMaxChunkElements);

// An NCCL group over `host`'s ranks, for CUDA tensors on `device` (this rank's GPU); host
// tensors and barriers go to `host`. Collective over `host`. Defined only in builds with NCCL
// (dist/nccl_communicator.cpp); the GPU tests make one over a group of one.
std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> host,
                                                     Device device);

}  // namespace whet::dist::detail
