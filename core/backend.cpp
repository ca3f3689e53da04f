#include "core/backend.h"

#include "core/rng.h"

namespace whet {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg",   "abs",        "exp",     "log",     "sqrt",
                                "rsqrt", "sin",        "cos",     "square",  "reciprocal",
                                "sign",  "relu",       "relu6",   "sigmoid", "tanh",
                                "silu",  "hardswish",  "hardsigmoid", "gelu"};
  return names[int(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add",     "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq",      "ne",  "lt",  "le",  "gt",  "ge"};
  return names[int(op)];
}

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "mean", "amax", "amin", "argmax", "argmin"};
  return names[int(op)];
}

const Backend& backend(Device d) {
  if (d.is_cpu()) return cpu_backend();
  const Backend* b = cuda_backend();
  WHET_CHECK(b != nullptr, "device ", d.str(), " requested, but this build of whet has no CUDA "
             "backend (configure with -DWHET_CUDA=ON on a machine with nvcc)");
  int n = b->device_count();
  WHET_CHECK(d.index >= 0 && d.index < n, "device ", d.str(), " is not available (", n,
             " CUDA device(s) visible)");
  return *b;
}

bool cuda_compiled() { return cuda_backend() != nullptr; }
int cuda_device_count() {
  const Backend* b = cuda_backend();
  return b ? b->device_count() : 0;
}

Storage allocate_storage(size_t nbytes, Device device) {
  const Backend& b = backend(device);
  int index = device.index;
  void* p = nbytes ? b.allocate(nbytes, index) : nullptr;
  auto dealloc = b.deallocate;
  Storage s;
  s.data = std::shared_ptr<void>(p, [dealloc, nbytes, index](void* q) {
    if (q) dealloc(q, nbytes, index);
  });
  s.nbytes = nbytes;
  s.device = device;
  return s;
}


}  // namespace whet
