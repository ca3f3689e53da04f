#include "core/pinned.h"

#include <memory>

#include "core/backend.h"
#include "core/error.h"
#include "core/shape.h"

namespace whet {

bool pinned_memory_available() {
  const Backend* cuda = cuda_backend();
  return cuda != nullptr && cuda->allocate_pinned != nullptr && cuda_device_count() > 0;
}

Tensor empty_pinned(const Shape& shape, DType dtype) {
  if (!pinned_memory_available()) return Tensor::empty(shape, dtype);
  const Backend& b = *cuda_backend();
  int64_t bytes = 0;
  WHET_CHECK(!__builtin_mul_overflow(checked_numel(shape, "empty_pinned"),
                                     int64_t(dtype_size(dtype)), &bytes),
             "empty_pinned: shape ", shape_str(shape), " of ", dtype_name(dtype),
             " needs more bytes than fit in int64");
  const size_t nbytes = size_t(bytes);
  void* p = nbytes ? b.allocate_pinned(nbytes) : nullptr;
  auto release = b.deallocate_pinned;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage.data = std::shared_ptr<void>(p, [release, nbytes](void* q) {
    if (q) release(q, nbytes);
  });
  impl->storage.nbytes = nbytes;
  impl->storage.device = Device::cpu();
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace whet
