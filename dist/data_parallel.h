// Data parallelism over a Communicator, as torch.nn.parallel.DistributedDataParallel: every
// rank holds the whole model, trains on its share of each batch, and averages gradients
// before the optimizer step, so all ranks take the same step and stay identical.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "nn/module.h"

namespace whet::dist {

// Gives every rank root's parameters and buffers (DDP's constructor does this), so ranks
// that initialised differently start alike.
void broadcast_module(nn::Module& module, Communicator& comm, int root = 0);

// Gives every rank root's buffers (BatchNorm's running statistics), which each rank
// otherwise updates from its own share of the batch. DDP's broadcast_buffers=True does this
// before each forward; the model then evaluates alike on every rank.
void broadcast_buffers(nn::Module& module, Communicator& comm, int root = 0);

// Throws on every rank, naming `what`, unless `tensors` are bit for bit the same on all ranks
// (one hash each, compared in one small all-reduce). Data parallelism keeps parameters and
// optimizer state identical; this is the check that it did.
void check_in_step(const nn::NamedTensors& tensors, Communicator& comm, const std::string& what);

// Every defined gradient becomes its mean over the ranks. Gradients travel flattened into
// buckets of at most bucket_bytes (one per dtype and device), a few large messages instead
// of one per parameter. Ranks must agree on which parameters have gradients; a disagreement
// (a branch taken on one rank only) throws on every rank, naming a parameter, rather than
// hanging.
void average_gradients(const std::vector<Tensor>& params, Communicator& comm,
                       size_t bucket_bytes = size_t(25) << 20);

}  // namespace whet::dist
