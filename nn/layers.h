// The layers of torchvision's CNNs, each matching its torch.nn namesake (defaults, parameter
// and buffer names). Activations are NHWC: (N, H, W, C).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace whet::nn {

// y = x W^T + b.  torch.nn.Linear(in, out, bias). weight (out, in), bias (out).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;
  int64_t in_features, out_features;
};

struct Conv2dSpec {
  int64_t in_channels, out_channels;
  Int2 kernel_size;
  Conv2dOptions options = {};
  bool bias = true;
};

// torch.nn.Conv2d over NHWC. weight (O, KH, KW, I/groups) — PyTorch's OIHW is converted at
// load and save (io/) — bias (O).
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dSpec& spec);
  Conv2d(int64_t in, int64_t out, Int2 kernel, Conv2dOptions o = {}, bool bias = true)
      : Conv2d(Conv2dSpec{in, out, kernel, o, bias}) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  Tensor weight, bias;
  Conv2dSpec spec;
};

// torch.nn.BatchNorm2d (also used on (N, C) input). Buffers running_mean, running_var,
// num_batches_tracked. Running variance is updated with the unbiased batch variance.
// Frozen (set_frozen): statistics are not updated and affine parameters not trained, even
// while the network around it is in training mode.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  void set_frozen(bool frozen);
  bool frozen() const { return frozen_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;

 private:
  bool frozen_ = false;
};

// A parameter-free elementwise function, named as its torch.nn class.
class Activation : public Module {
 public:
  Activation(std::string type_name, Tensor (*fn)(const Tensor&));
  Tensor forward(const Tensor& x) override { return fn_(x); }

 private:
  Tensor (*fn_)(const Tensor&);
};
struct ReLU : Activation { ReLU() : Activation("ReLU", relu) {} };
struct ReLU6 : Activation { ReLU6() : Activation("ReLU6", relu6) {} };
struct Sigmoid : Activation { Sigmoid() : Activation("Sigmoid", sigmoid) {} };
struct Tanh : Activation { Tanh() : Activation("Tanh", tanh) {} };
struct SiLU : Activation { SiLU() : Activation("SiLU", silu) {} };
struct Hardswish : Activation { Hardswish() : Activation("Hardswish", hardswish) {} };
struct Hardsigmoid : Activation { Hardsigmoid() : Activation("Hardsigmoid", hardsigmoid) {} };
struct GELU : Activation { GELU() : Activation("GELU", gelu) {} };

// torch.nn.Dropout(p): identity in eval mode.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  double p;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pool2dOptions o);
  Tensor forward(const Tensor& x) override { return max_pool2d(x, options); }
  std::string describe() const override;
  Pool2dOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pool2dOptions o);
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, options); }
  std::string describe() const override;
  Pool2dOptions options;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Int2 output_size);
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string describe() const override;
  Int2 output_size;
};

// torch.nn.Flatten(start_dim=1, end_dim=-1). On NHWC input the flattened order is H, W, C.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  int64_t start_dim, end_dim;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// torch.nn.Sequential: children named "0", "1", ... applied in order.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<ModulePtr> modules);
  Sequential& push_back(ModulePtr m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return named_children().size(); }
  Module& operator[](size_t i) const { return *named_children().at(i).second; }
};

// A module from a function, for custom pieces of a model (no parameters of its own).
class Lambda : public Module {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn, std::string name = "Lambda")
      : Module(std::move(name)), fn_(std::move(fn)) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace whet::nn
