// Tensor: shared Storage plus shape, dtype and an element offset. Always contiguous row-major
// (ARCHITECTURE.md, decision 1): reshape and slicing along dim 0 are free views, everything
// else that moves elements is an explicit copying op in core/ops.h.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace whet {

struct Node;
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing, as PyTorch's Tensor()
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised memory; see ops.h for zeros/ones/full/rand and friends.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  // Copies host values into a new CPU tensor (converted to `dtype`) of the given shape.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            DType dtype = dtype_of<T>());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }

  // Element access. data<T>() checks the dtype and that the tensor is on the CPU.
  template <class T>
  T* data() const;
  void* raw_data() const;  // any device
  double item() const;     // a one-element tensor's value, from any device
  template <class T>
  std::vector<T> to_vector() const;  // all values, converted to T, from any device

  // Views sharing storage (no copy). `-1` in reshape infers one extent.
  Tensor reshape(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of dim 0
  Tensor operator[](int64_t i) const;              // row i of dim 0, one rank less
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;

  Tensor clone() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor to(Device device, DType dtype) const { return to(device).to(dtype); }

  // Autograd (core/autograd.h holds the engine).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r = true);  // only on leaves
  const Tensor& grad() const;
  void set_grad(const Tensor& g) const;
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  Tensor detach() const;  // same storage, no history
  // Runs backpropagation from this tensor: a scalar, or any shape with `grad` of that shape.
  void backward(const Tensor& grad = Tensor()) const;

  // In-place updates of values, for optimizers and initialisers; they refuse tensors that
  // autograd would need (a leaf requiring grad, while grad mode is on).
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // any device and dtype to this one; shapes must match

  // Points this tensor at src's data (storage, shape, dtype) while keeping its identity and
  // autograd flags, as PyTorch's `param.data = ...`: how Module::to moves parameters.
  void set_data(const Tensor& src) const;

  bool same_storage(const Tensor& o) const;
  std::string str() const;  // "tensor([[1, 2], ...], shape=(2, 2), dtype=float32)"
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  Storage storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- template definitions ----

template <class T>
T* Tensor::data() const {
  const TensorImpl& t = checked();
  WHET_CHECK(t.dtype == dtype_of<T>(), "data<T>(): tensor is ", dtype_name(t.dtype),
             ", asked for ", dtype_name(dtype_of<T>()));
  WHET_CHECK(t.storage.device.is_cpu(), "data<T>(): tensor is on ", t.storage.device.str(),
             "; copy it to the CPU first");
  return static_cast<T*>(t.storage.data.get()) + t.offset;
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, DType dtype) {
  WHET_CHECK(int64_t(values.size()) == whet::numel(shape), "from_vector: ", values.size(),
             " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  dispatch(dtype, "from_vector", [&](auto tag) {
    using D = typename decltype(tag)::type;
    D* p = t.data<D>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = cast_value<D>(values[i]);
  });
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(Device::cpu());
  std::vector<T> out(size_t(c.numel()));
  dispatch(c.dtype(), "to_vector", [&](auto tag) {
    using D = typename decltype(tag)::type;
    const D* p = c.data<D>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = cast_value<T>(p[i]);
  });
  return out;
}

}  // namespace whet
