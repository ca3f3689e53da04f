// Random draws and dropout masks from Philox4x32-10 (core/rng.h): element i uses counter
// (offset + i) under key `seed`, so the numbers equal the CPU kernel's.
#pragma once
#include <cstdint>

#include "core/backend.h"

namespace whet::cuda {

void random(Tensor& out, RandomKind kind, double a, double b, uint64_t seed, uint64_t offset);
void dropout_mask(Tensor& mask, double p, uint64_t seed, uint64_t offset);

}  // namespace whet::cuda
