// nn::Module: the base of every layer and model, as torch.nn.Module.
// Parameters, buffers and children are registered by name, in order; dotted names
// (`layer1.0.conv1.weight`) come from the tree. A registered tensor keeps its identity for
// life: to(), load_state_dict() and freezing change it in place, so a layer's member handle
// and the module's registry always see the same tensor.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"

namespace whet::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// What load_state_dict found, by name (PyTorch's missing_keys / unexpected_keys, plus the
// shape mismatches it raises on).
struct LoadResult {
  std::vector<std::string> missing, unexpected, shape_mismatch;
  bool ok() const { return missing.empty() && unexpected.empty() && shape_mismatch.empty(); }
  std::string str() const;
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // "Conv2d", "BatchNorm2d", ... : what freeze_type() matches.
  const std::string& type_name() const { return type_name_; }
  // One line for printing a model tree, e.g. "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2))".
  virtual std::string describe() const { return type_name_ + "()"; }

  // ---- the tree ----
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_trainable_parameters() const;  // requires_grad only
  std::vector<Tensor> trainable_parameters() const;
  NamedTensors named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // Every module with its dotted path, this one first as "".
  std::vector<std::pair<std::string, Module*>> named_modules() const;
  // The descendant at a dotted path ("layer1.0"), or nullptr.
  Module* find(const std::string& path);
  // Replaces a direct child (used to swap a classifier head). Throws when it does not exist.
  void replace_child(const std::string& name, std::shared_ptr<Module> m);

  // ---- modes ----
  virtual void train(bool on = true);  // this module and all descendants
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- device and dtype ----
  // Moves parameters and buffers; dtype changes floating tensors only (BatchNorm's
  // num_batches_tracked stays int64), as Module.to does.
  void to(Device d);
  void to(DType dt);

  // ---- state ----
  NamedTensors state_dict() const;  // parameters then buffers, each in registration order
  // Copies values by name (converting dtype/device). Shape mismatches are reported and skipped;
  // with strict, any missing/unexpected/mismatched key throws listing all of them. `show`
  // writes the shapes in those reports (default shape_str); io::load_weights passes one that
  // shows conv weights in the file's OIHW layout rather than whet's OHWI.
  using ShapeDisplay = std::function<std::string(const Shape&)>;
  LoadResult load_state_dict(const NamedTensors& sd, bool strict = true,
                             const ShapeDisplay& show = {});

 protected:
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, bool recurse, NamedTensors& out) const;

  std::string type_name_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

// A short tree of the module for printing (indented, one line per module).
std::string module_tree(const Module& m);

}  // namespace whet::nn
