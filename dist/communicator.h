// Collective communication between the processes of a data-parallel run, as a
// torch.distributed process group: MPI between processes (CPU tensors, and CUDA tensors
// staged through the host where whet has no NCCL), NCCL between the ranks' GPUs
// (device_group), a single-process group when there is nothing to talk to.
//
//   auto comm = dist::world();          // MPI when started by mpirun with more than one rank
//   dist::broadcast_module(model, *comm);
//   ... loss.backward();
//   dist::average_gradients(params, *comm);
//   opt.step();
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace whet::dist {

enum class ReduceOp { sum, max, min };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "mpi", "single" or "nccl+mpi"

  // In place, on every rank at once, with the same shape and dtype everywhere (float32,
  // float64, int64). Every rank must make the same calls in the same order.
  virtual void all_reduce(Tensor& t, ReduceOp op = ReduceOp::sum) = 0;
  // t takes root's values on every rank.
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void barrier() = 0;
};

// True when this process was started by an MPI launcher (mpirun / mpiexec) among two or
// more ranks; read from the launcher's environment, without starting MPI.
bool launched_by_mpi();

// How many ranks the launcher started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE,
// MPI_LOCALNRANKS, MV2_COMM_WORLD_LOCAL_SIZE); 1 when it did not say. They share its cores.
int local_ranks();
// This process's place among them (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID,
// MV2_COMM_WORLD_LOCAL_RANK); 0 when the launcher did not say.
int local_rank();

// " (rank R of W)" when launched_by_mpi() (the launcher's OMPI_COMM_WORLD_RANK, PMI_RANK or
// MV2_COMM_WORLD_RANK), else "": for messages that every rank may print.
std::string rank_label();

// The run's process group, made on first call: MPI when launched_by_mpi(), else a group of
// one. Throws, naming the reason, when mpirun started this process but whet was built
// without MPI.
std::shared_ptr<Communicator> world();

// The group for a run on `device`: where device is CUDA, whet was built with NCCL and `host`
// has several ranks, a group whose collectives on CUDA tensors run through NCCL on the
// device's stream (host tensors and barriers still go through `host`); otherwise `host`
// itself. Collective over `host`: every rank calls it, each with its own GPU.
std::shared_ptr<Communicator> device_group(std::shared_ptr<Communicator> host, Device device);

// A group of one: collectives are identities. For single-process runs and tests.
std::shared_ptr<Communicator> single_process();

// After an error on this rank that the others may not share (a full disk on rank 0, say),
// ends every rank of the run at once (MPI_Abort) with exit_code: a rank left waiting in a
// collective would hang the job. Does nothing when MPI was never started or the run has one
// process.
void abort_peers(int exit_code);

}  // namespace whet::dist
