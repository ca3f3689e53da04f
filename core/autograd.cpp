#include "core/autograd.h"

#include <unordered_map>

#include "core/autocast.h"
#include "core/ops.h"

namespace whet {

namespace {
thread_local bool g_grad_enabled = true;

Edge edge_to(const Tensor& t) {
  if (!t.defined()) return {};
  if (t.grad_fn()) return {t.grad_fn(), nullptr};
  if (t.impl()->requires_grad) return {nullptr, t.impl()};
  return {};
}

// Leaf gradients are owned by the leaf: the incoming tensor may alias another gradient (x+y
// hands the same tensor to both), and optimizers or clipping may later scale .grad in place.
void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  WHET_CHECK(g.shape() == leaf.shape, "backward: gradient of shape ", shape_str(g.shape()),
             " for a leaf of shape ", shape_str(leaf.shape));
  Tensor gg = g.dtype() == leaf.dtype ? g : g.to(leaf.dtype);
  if (!leaf.grad.defined()) {
    leaf.grad = gg.clone();
  } else {
    leaf.grad = leaf.grad + gg;
  }
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& out, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.reserve(inputs.size());
  for (const Tensor& t : inputs) node->inputs.push_back(edge_to(t));
  node->backward = std::move(fn);
  out.impl()->grad_fn = std::move(node);
}

void run_backward(const Tensor& root, const Tensor& grad_in) {
  WHET_CHECK(root.defined(), "backward: undefined tensor");
  WHET_CHECK(root.requires_grad(), "backward: the tensor does not require grad and has no "
             "history (did an input have requires_grad set, and was grad mode on?)");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    WHET_CHECK(root.numel() == 1, "backward: grad can be implicitly created only for a scalar "
               "output; this one has shape ", shape_str(root.shape()));
    grad = ones(root.shape(), root.dtype(), root.device());
  }
  WHET_CHECK(grad.shape() == root.shape(), "backward: gradient shape ", shape_str(grad.shape()),
             " does not match output shape ", shape_str(root.shape()));
  NoGradGuard no_grad;  // backward itself records nothing (no higher-order gradients)
  // Each gradient is computed in the dtype its forward ran in, whatever region calls backward.
  AutocastGuard no_autocast(autocast_dtype(), /*enabled=*/false);
  if (!root.grad_fn()) {
    accumulate_leaf(*root.impl(), grad);
    return;
  }

  // Count, for each node, how many edges from nodes in this graph point at it; a node runs
  // once all of its consumers have delivered their gradient.
  std::unordered_map<Node*, int> pending;
  std::vector<Node*> stack{root.grad_fn().get()};
  pending[root.grad_fn().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->inputs) {
      if (!e.node) continue;
      auto it = pending.find(e.node.get());
      if (it == pending.end()) {
        pending[e.node.get()] = 1;
        stack.push_back(e.node.get());
      } else {
        ++it->second;
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads{{root.grad_fn().get(), grad}};
  // Keeps every node alive while the walk runs, even if a producer's last owner lets go.
  std::vector<std::shared_ptr<Node>> ready{root.grad_fn()};
  while (!ready.empty()) {
    std::shared_ptr<Node> n = ready.back();
    ready.pop_back();
    Tensor g;
    if (auto it = grads.find(n.get()); it != grads.end()) {
      g = std::move(it->second);
      grads.erase(it);
    }
    // A node that no gradient reached still releases its inputs' counts, so nodes that other
    // paths do reach run once.
    std::vector<Tensor> gin(n->inputs.size());
    if (g.defined()) {
      WHET_CHECK(n->backward, "backward: node '", n->name, "' was already run and its saved "
                 "tensors freed; a graph can be backpropagated once");
      NeedsGrad needs(n->inputs.size());
      for (size_t i = 0; i < needs.size(); ++i) needs[i] = n->inputs[i].needed();
      gin = n->backward(g, needs);
      n->backward = nullptr;  // frees what the op saved
      WHET_CHECK(gin.size() == n->inputs.size(), "backward: node '", n->name, "' returned ",
                 gin.size(), " gradients for ", n->inputs.size(), " inputs");
    }
    for (size_t i = 0; i < gin.size(); ++i) {
      const Edge& e = n->inputs[i];
      if (e.leaf) {
        if (gin[i].defined()) accumulate_leaf(*e.leaf, gin[i]);
        continue;
      }
      if (!e.node) continue;
      Node* next = e.node.get();
      if (gin[i].defined()) {
        auto it = grads.find(next);
        if (it == grads.end()) grads.emplace(next, gin[i]);
        else it->second = it->second + gin[i];
      }
      if (--pending[next] == 0) ready.push_back(e.node);
    }
  }
}

}  // namespace whet
