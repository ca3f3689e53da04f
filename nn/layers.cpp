#include "nn/layers.h"

#include <sstream>

#include "core/autograd.h"
#include "nn/init.h"

namespace whet::nn {

namespace {
std::string pair_str(Int2 v) {
  return "(" + std::to_string(v.h) + ", " + std::to_string(v.w) + ")";
}
}  // namespace

// ---- Linear ----

Linear::Linear(int64_t in, int64_t out, bool has_bias)
    : Module("Linear"), in_features(in), out_features(out) {
  WHET_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
  weight = register_parameter("weight", Tensor::empty({out, in}));
  if (has_bias) bias = register_parameter("bias", Tensor::empty({out}));
  init::default_linear_or_conv_(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::describe() const {
  return "Linear(in_features=" + std::to_string(in_features) +
         ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False") + ")";
}

// ---- Conv2d ----

Conv2d::Conv2d(const Conv2dSpec& s) : Module("Conv2d"), spec(s) {
  int g = s.options.groups;
  WHET_CHECK(s.in_channels > 0 && s.out_channels > 0 && g > 0 && s.in_channels % g == 0 &&
                 s.out_channels % g == 0,
             "Conv2d: in_channels ", s.in_channels, " and out_channels ", s.out_channels,
             " must be positive and divisible by groups ", g);
  weight = register_parameter(
      "weight", Tensor::empty({s.out_channels, s.kernel_size.h, s.kernel_size.w, s.in_channels / g}));
  if (s.bias) bias = register_parameter("bias", Tensor::empty({s.out_channels}));
  init::default_linear_or_conv_(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, spec.options); }

std::string Conv2d::describe() const {
  std::ostringstream os;
  const Conv2dOptions& o = spec.options;
  os << "Conv2d(" << spec.in_channels << ", " << spec.out_channels
     << ", kernel_size=" << pair_str(spec.kernel_size) << ", stride=" << pair_str(o.stride);
  if (!(o.padding == Int2(0))) os << ", padding=" << pair_str(o.padding);
  if (!(o.dilation == Int2(1))) os << ", dilation=" << pair_str(o.dilation);
  if (o.groups != 1) os << ", groups=" << o.groups;
  if (!spec.bias) os << ", bias=False";
  os << ")";
  return os.str();
}

// ---- BatchNorm2d ----

BatchNorm2d::BatchNorm2d(int64_t n, double eps_, double momentum_, bool affine, bool track)
    : Module("BatchNorm2d"), num_features(n), eps(eps_), momentum(momentum_) {
  WHET_CHECK(n > 0, "BatchNorm2d: num_features must be positive, got ", n);
  if (affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({n}));
    running_var = register_buffer("running_var", ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

void BatchNorm2d::set_frozen(bool f) {
  frozen_ = f;
  for (Tensor* p : {&weight, &bias})
    if (p->defined()) p->set_requires_grad(!f);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  // Batch statistics in training unless frozen or not tracking (then always batch stats).
  bool use_batch_stats = (is_training() && !frozen_) || !running_mean.defined();
  if (use_batch_stats && is_training() && num_batches_tracked.defined()) {
    NoGradGuard no_grad;
    num_batches_tracked.copy_(num_batches_tracked + scalar_like(1, num_batches_tracked));
  }
  // Running statistics are updated only by a training pass of an unfrozen layer.
  bool update = use_batch_stats && is_training() && running_mean.defined();
  return batch_norm(x, weight, bias, update || !use_batch_stats ? running_mean : Tensor(),
                    update || !use_batch_stats ? running_var : Tensor(), use_batch_stats,
                    momentum, eps);
}

std::string BatchNorm2d::describe() const {
  std::ostringstream os;
  os << "BatchNorm2d(" << num_features << ", eps=" << eps << ", momentum=" << momentum
     << ", affine=" << (weight.defined() ? "True" : "False")
     << ", track_running_stats=" << (running_mean.defined() ? "True" : "False")
     << (frozen_ ? ", frozen" : "") << ")";
  return os.str();
}

// ---- parameter-free layers ----

Activation::Activation(std::string type_name, Tensor (*fn)(const Tensor&))
    : Module(std::move(type_name)), fn_(fn) {}

Dropout::Dropout(double p_) : Module("Dropout"), p(p_) {
  WHET_CHECK(p >= 0 && p < 1, "Dropout: p must be in [0, 1), got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }
std::string Dropout::describe() const {
  std::ostringstream os;
  os << "Dropout(p=" << p << ")";
  return os.str();
}

MaxPool2d::MaxPool2d(Pool2dOptions o) : Module("MaxPool2d"), options(o) {}
std::string MaxPool2d::describe() const {
  return "MaxPool2d(kernel_size=" + pair_str(options.kernel_size) +
         ", stride=" + pair_str(options.effective_stride()) +
         ", padding=" + pair_str(options.padding) + ")";
}

AvgPool2d::AvgPool2d(Pool2dOptions o) : Module("AvgPool2d"), options(o) {}
std::string AvgPool2d::describe() const {
  return "AvgPool2d(kernel_size=" + pair_str(options.kernel_size) +
         ", stride=" + pair_str(options.effective_stride()) + ")";
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Int2 size) : Module("AdaptiveAvgPool2d"), output_size(size) {}
std::string AdaptiveAvgPool2d::describe() const {
  return "AdaptiveAvgPool2d(output_size=" + pair_str(output_size) + ")";
}

Flatten::Flatten(int64_t s, int64_t e) : Module("Flatten"), start_dim(s), end_dim(e) {}

Sequential::Sequential(std::vector<ModulePtr> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(std::move(m));
}

Sequential& Sequential::push_back(ModulePtr m) {
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [n, m] : named_children()) h = m->forward(h);
  return h;
}

}  // namespace whet::nn
