// Pinned (page-locked) host tensors: the buffers the DataLoader fills when training on a CUDA
// device, as torch's DataLoader(pin_memory=True).
//
// A copy from a pinned tensor to a device does not wait: the DMA is queued on the device's
// stream and the call returns (torch's non_blocking=True). So a pinned tensor must not be
// written while a copy out of it may still be running; the loader never does (each batch gets
// fresh buffers), and a freed pinned buffer is reused only after the work queued before its
// release has finished.
#pragma once
#include "core/tensor.h"

namespace whet {

// True when a CUDA device is present to pin memory for.
bool pinned_memory_available();

// A CPU tensor in pinned memory; an ordinary CPU tensor when pinned_memory_available() is
// false, so callers need no second path.
Tensor empty_pinned(const Shape& shape, DType dtype = DType::f32);

}  // namespace whet
