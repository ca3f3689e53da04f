// Uninitialised working memory for a kernel, from the host allocator (and so its block
// cache): a std::vector would zero-fill it on every call (a 16 MiB im2col buffer: a memset
// as long as the copy that then overwrites it) and glibc would hand out fresh pages each time.
#pragma once
#include <cstddef>

#include "kernels/cpu/kernels.h"

namespace whet::cpu {

template <class T>
class Scratch {
 public:
  explicit Scratch(size_t count)
      : bytes_(count * sizeof(T)), data_(static_cast<T*>(allocate(bytes_, 0))) {}
  ~Scratch() { deallocate(data_, bytes_, 0); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }

 private:
  size_t bytes_;
  T* data_;
};

}  // namespace whet::cpu
