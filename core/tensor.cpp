#include "core/tensor.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/ops.h"

namespace whet {

namespace {
std::shared_ptr<TensorImpl> view_of(const TensorImpl& t, Shape shape, int64_t extra_offset) {
  auto v = std::make_shared<TensorImpl>();
  v->storage = t.storage;
  v->offset = t.offset + extra_offset;
  v->shape = std::move(shape);
  v->dtype = t.dtype;
  return v;
}

// Views share storage; when the source carries history the view gets a node that routes the
// gradient back through the inverse reshape, so views stay differentiable.
Tensor differentiable_view(const Tensor& src, Shape shape, int64_t extra_offset,
                           const char* name) {
  Tensor v(view_of(*src.impl(), std::move(shape), extra_offset));
  if (any_requires_grad({src})) {
    Shape in_shape = src.shape();
    int64_t rows = src.dim() ? src.size(0) : 1;
    int64_t row_numel = rows ? src.numel() / rows : 0;
    bool whole = extra_offset == 0 && v.numel() == src.numel();
    int64_t begin = row_numel ? extra_offset / row_numel : 0;
    int64_t end = begin + (row_numel ? v.numel() / row_numel : 0);
    record(name, {src}, v, [in_shape, whole, begin, end](const Tensor& g, const NeedsGrad&) {
      if (whole) return std::vector<Tensor>{g.reshape(in_shape)};
      // A slice along dim 0: its gradient lands in those rows of zeros.
      Tensor gx = zeros(in_shape, g.dtype(), g.device());
      gx.slice(begin, end).copy_(g);
      return std::vector<Tensor>{gx};
    });
  }
  return v;
}
}  // namespace

TensorImpl& Tensor::checked() const {
  WHET_CHECK(impl_ != nullptr, "operation on an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  int64_t n = checked_numel(shape, "empty");
  int64_t bytes = 0;
  WHET_CHECK(!__builtin_mul_overflow(n, int64_t(dtype_size(dtype)), &bytes), "empty: shape ",
             shape_str(shape), " of ", dtype_name(dtype), " needs more bytes than fit in int64");
  auto t = std::make_shared<TensorImpl>();
  t->shape = shape;
  t->dtype = dtype;
  t->storage = allocate_storage(size_t(bytes), device);
  return Tensor(std::move(t));
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full({}, value, dtype, device);
}

const Shape& Tensor::shape() const { return checked().shape; }
int64_t Tensor::size(int64_t d) const { return shape()[size_t(wrap_dim(d, dim(), "size"))]; }
int64_t Tensor::numel() const { return whet::numel(shape()); }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().storage.device; }

void* Tensor::raw_data() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage.data.get()) + t.offset * int64_t(dtype_size(t.dtype));
}

double Tensor::item() const {
  WHET_CHECK(numel() == 1, "item(): tensor of shape ", shape_str(shape()),
             " has ", numel(), " elements, not 1");
  return to_vector<double>()[0];
}

Tensor Tensor::reshape(const Shape& s) const {
  Shape out = s;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      WHET_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(s));
      infer = int64_t(i);
    } else {
      WHET_CHECK(out[i] >= 0, "reshape: negative extent in ", shape_str(s));
      // Checked as checked_numel does: a running product past int64 is undefined behaviour,
      // even where a later zero extent would bring the total back to 0.
      WHET_CHECK(!__builtin_mul_overflow(known, out[i], &known), "reshape: shape ", shape_str(s),
                 " has more elements than fit in int64");
    }
  }
  if (infer >= 0) {
    WHET_CHECK(known != 0 && numel() % known == 0, "reshape: cannot reshape ",
               shape_str(shape()), " into ", shape_str(s));
    out[size_t(infer)] = numel() / known;
  }
  WHET_CHECK(checked_numel(out, "reshape") == numel(), "reshape: cannot reshape ",
             shape_str(shape()),
             " (", numel(), " elements) into ", shape_str(s));
  return differentiable_view(*this, out, 0, "reshape");
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  int64_t r = std::max<int64_t>(dim(), 1);
  start = wrap_dim(start, r, "flatten");
  end = wrap_dim(end, r, "flatten");
  WHET_CHECK(start <= end, "flatten: start_dim ", start, " is after end_dim ", end);
  if (dim() == 0) return reshape({1});
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t i = start; i <= end; ++i) m *= shape()[size_t(i)];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  WHET_CHECK(dim() >= 1, "slice: a 0-D tensor has no rows");
  int64_t n = size(0);
  WHET_CHECK(0 <= begin && begin <= end && end <= n, "slice: rows [", begin, ", ", end,
             ") out of range for dim 0 of size ", n);
  Shape s = shape();
  s[0] = end - begin;
  return differentiable_view(*this, s, begin * (n ? numel() / n : 0), "slice");
}

Tensor Tensor::operator[](int64_t i) const {
  WHET_CHECK(dim() >= 1, "index: a 0-D tensor cannot be indexed");
  int64_t n = size(0);
  WHET_CHECK(i >= -n && i < n, "index ", i, " out of range for dim 0 of size ", n);
  if (i < 0) i += n;
  Shape s(shape().begin() + 1, shape().end());
  return slice(i, i + 1).reshape(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  Shape s = shape();
  if (s[size_t(d)] != 1) return *this;
  s.erase(s.begin() + d);
  return reshape(s);
}

Tensor Tensor::clone() const { return cast(*this, dtype()); }

Tensor Tensor::to(Device d) const { return to_device(*this, d); }
Tensor Tensor::to(DType dt) const { return cast(*this, dt); }

bool Tensor::requires_grad() const { return checked().requires_grad || checked().grad_fn; }

Tensor& Tensor::set_requires_grad(bool r) {
  WHET_CHECK(!checked().grad_fn, "set_requires_grad: only leaf tensors can be changed; this one"
                                 " is the output of ", "an op (use detach())");
  WHET_CHECK(!r || is_floating(dtype()), "set_requires_grad: only floating tensors can "
             "require gradients, not ", dtype_name(dtype()));
  impl_->requires_grad = r;
  return *this;
}

const Tensor& Tensor::grad() const { return checked().grad; }
void Tensor::set_grad(const Tensor& g) const {
  WHET_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient shape ",
             shape_str(g.shape()), " differs from tensor shape ", shape_str(shape()));
  checked().grad = g;
}
bool Tensor::is_leaf() const { return !checked().grad_fn; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }

Tensor Tensor::detach() const { return Tensor(view_of(checked(), shape(), 0)); }

void Tensor::backward(const Tensor& grad) const { run_backward(*this, grad); }

namespace {
void check_writable(const Tensor& t, const char* op) {
  WHET_CHECK(!(grad_enabled() && t.requires_grad()), op,
             ": in-place update of a tensor that requires grad; wrap it in NoGradGuard "
             "(as optimizers do) or detach() it first");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_writable(*this, "fill_");
  const Backend& b = backend(device());
  WHET_CHECK(b.fill, "fill_: no kernel on ", device().str());
  b.fill(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_writable(*this, "copy_");
  WHET_CHECK(src.numel() == numel(), "copy_: source shape ", shape_str(src.shape()),
             " does not match destination shape ", shape_str(shape()));
  Device d = device().is_cuda() ? device() : src.device();
  backend(d).copy(src, *this);
  return *this;
}

void Tensor::set_data(const Tensor& src) const {
  TensorImpl& t = checked();
  const TensorImpl& s = *src.impl();
  WHET_CHECK(!t.grad_fn, "set_data: only leaf tensors can be re-pointed");
  WHET_CHECK(!t.requires_grad || is_floating(s.dtype), "set_data: a tensor that requires grad "
             "must stay floating, not become ", dtype_name(s.dtype));
  t.storage = s.storage;
  t.offset = s.offset;
  t.shape = s.shape;
  t.dtype = s.dtype;
  if (t.grad.defined() && (t.grad.shape() != t.shape || t.grad.device() != t.storage.device))
    t.grad = Tensor();
}

bool Tensor::same_storage(const Tensor& o) const {
  return checked().storage.data == o.checked().storage.data;
}

namespace {
void print_values(std::ostream& os, const std::vector<double>& v, const Shape& s, size_t dim,
                  int64_t base, bool integral, int indent) {
  if (s.empty()) {
    os << v[0];
    return;
  }
  int64_t n = s[dim], stride = 1;
  for (size_t i = dim + 1; i < s.size(); ++i) stride *= s[i];
  const int64_t kEdge = 3;
  bool elide = n > 2 * kEdge && int64_t(v.size()) > 1000;
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (elide && i == kEdge) {
      os << (dim + 1 == s.size() ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' '));
      i = n - kEdge;
    }
    if (dim + 1 == s.size()) {
      double x = v[size_t(base + i)];
      if (integral) os << int64_t(x); else os << x;
    } else {
      print_values(os, v, s, dim + 1, base + i * stride, integral, indent + 1);
    }
    if (i + 1 < n) os << (dim + 1 == s.size() ? ", " : ",\n" + std::string(size_t(indent + 1), ' '));
  }
  os << "]";
}
}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << std::setprecision(6) << "tensor(";
  print_values(os, to_vector<double>(), shape(), 0, 0, !is_floating(dtype()), 7);
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=True";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace whet
