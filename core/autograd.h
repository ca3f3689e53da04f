// Define-by-run autograd (ARCHITECTURE.md, decision 3).
// An op whose inputs need no gradient records nothing. A Node holds edges to its inputs'
// producers (or the leaf tensors themselves) and one backward function whose captures are
// the only tensors it saves; the function is released once run, which frees them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace whet {

struct Edge {
  std::shared_ptr<Node> node;        // a non-leaf input: its producer
  std::shared_ptr<TensorImpl> leaf;  // a leaf input that requires grad: accumulate here
  bool needed() const { return node || leaf; }
};

// Which inputs of a node want a gradient, so backward skips the rest (a frozen conv computes
// no weight gradient).
using NeedsGrad = std::vector<bool>;
// Returns one gradient per input (undefined where not needed), given the output's gradient.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out, const NeedsGrad&)>;

struct Node {
  std::string name;
  std::vector<Edge> inputs;
  BackwardFn backward;
};

// Grad mode: thread-local, on by default. NoGradGuard turns it off for a scope.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and some input requires grad: only then does an op record.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Makes `out` the result of a node named `name` over `inputs`, when any_requires_grad(inputs).
// `fn` must capture only what backward needs, detached (Tensor::detach) to avoid cycles.
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& out, BackwardFn fn);

// Backpropagates `grad` (same shape as root) through root's graph into the leaves' .grad.
void run_backward(const Tensor& root, const Tensor& grad);

}  // namespace whet
