// Helpers shared by the op implementations (core/ops_*.cpp): kernel lookup and the argument
// checks whose messages name the op, the argument and the shapes.
#pragma once
#include <initializer_list>

#include "core/autograd.h"
#include "core/backend.h"

namespace whet {

// The device's kernel in `slot`, or an error naming the op and the device.
template <class Fn>
Fn kernel(Device d, Fn Backend::*slot, const char* op) {
  Fn f = backend(d).*slot;
  WHET_CHECK(f != nullptr, op, ": no ", backend(d).name, " kernel (device ", d.str(), ")");
  return f;
}

inline void check_defined(const char* op, const Tensor& t, const char* what) {
  WHET_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

// All defined tensors must share one device; the message lists them.
inline void check_same_device(const char* op, std::initializer_list<Tensor> ts) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (!first) first = &t;
    WHET_CHECK(t.device() == first->device(), op, ": tensors on different devices (",
               first->device().str(), " and ", t.device().str(), ")");
  }
}

// All defined tensors must share one dtype.
inline void check_same_dtype(const char* op, std::initializer_list<Tensor> ts) {
  const Tensor* first = nullptr;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (!first) first = &t;
    WHET_CHECK(t.dtype() == first->dtype(), op, ": dtype mismatch (", dtype_name(first->dtype()),
               " and ", dtype_name(t.dtype()), ")");
  }
}

inline void check_floating(const char* op, const Tensor& t, const char* what) {
  WHET_CHECK(is_floating(t.dtype()), op, ": ", what, " must be a floating tensor, not ",
             dtype_name(t.dtype()));
}

inline void check_rank(const char* op, const Tensor& t, int64_t rank, const char* what) {
  WHET_CHECK(t.dim() == rank, op, ": ", what, " must be ", rank, "-D, got shape ",
             shape_str(t.shape()));
}

inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

}  // namespace whet
