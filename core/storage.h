// Storage: one allocation on one device, shared by every tensor viewing it. Ownership is a
// shared_ptr<void> with the allocator's deleter, so a view keeps its bytes alive and external
// memory (a memory-mapped file) can be wrapped with its own release function.
#pragma once
#include <cstddef>
#include <memory>

#include "core/device.h"

namespace whet {

struct Storage {
  std::shared_ptr<void> data;
  size_t nbytes = 0;
  Device device;
};

// Allocates `nbytes` on `device` through that device's allocator (64-byte aligned host memory,
// or the CUDA caching allocator). Throws whet::Error when the memory cannot be had.
Storage allocate_storage(size_t nbytes, Device device);

}  // namespace whet
