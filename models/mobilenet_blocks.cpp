#include "models/mobilenet_blocks.h"

#include <algorithm>

#include "models/classifier.h"

namespace whet::models {

int64_t make_divisible(double v, int64_t divisor) {
  // int(v + divisor / 2) // divisor * divisor, as Python truncates the (positive) float.
  int64_t rounded = int64_t(v + double(divisor) / 2.0) / divisor * divisor;
  int64_t out = std::max(divisor, rounded);
  if (double(out) < 0.9 * v) out += divisor;
  return out;
}

nn::ModulePtr make_activation(Act a) {
  switch (a) {
    case Act::relu:
      return std::make_shared<nn::ReLU>();
    case Act::relu6:
      return std::make_shared<nn::ReLU6>();
    case Act::hardswish:
      return std::make_shared<nn::Hardswish>();
    case Act::none:
      break;
  }
  return nullptr;
}

Conv2dNormActivation::Conv2dNormActivation(const ConvNormActSpec& s)
    : Module("Conv2dNormActivation") {
  Conv2dOptions o;
  o.stride = s.stride;
  o.padding = (s.kernel_size - 1) / 2 * s.dilation;
  o.dilation = s.dilation;
  o.groups = s.groups;
  register_module("0", std::make_shared<nn::Conv2d>(s.in_channels, s.out_channels, s.kernel_size, o,
                                                    /*bias=*/false));
  register_module("1", std::make_shared<nn::BatchNorm2d>(s.out_channels, s.bn_eps, s.bn_momentum));
  if (nn::ModulePtr act = make_activation(s.activation)) register_module("2", act);
}

Tensor Conv2dNormActivation::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, child] : named_children()) h = child->forward(h);
  return h;
}

SqueezeExcitation::SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels)
    : Module("SqueezeExcitation") {
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  register_module("fc1", std::make_shared<nn::Conv2d>(input_channels, squeeze_channels, 1));
  register_module("fc2", std::make_shared<nn::Conv2d>(squeeze_channels, input_channels, 1));
  register_module("activation", std::make_shared<nn::ReLU>());
  register_module("scale_activation", std::make_shared<nn::Hardsigmoid>());
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  Tensor s = call_child(*this, "avgpool", x);  // (N, 1, 1, C)
  s = call_child(*this, "activation", call_child(*this, "fc1", s));
  s = call_child(*this, "scale_activation", call_child(*this, "fc2", s));
  return x * s;  // broadcast over H, W
}

}  // namespace whet::models
