// Building blocks shared by MobileNetV2 and V3, named as torchvision's:
//   Conv2dNormActivation (torchvision.ops.misc): children "0" conv (bias-free, padding
//     (k - 1) / 2 * dilation), "1" BatchNorm2d, "2" activation (absent when none), applied
//     in order: y = act(bn(conv(x))).
//   SqueezeExcitation (torchvision.ops.misc): y = x * hardsigmoid(fc2(relu(fc1(avgpool(x))))),
//     fc1/fc2 1x1 convolutions with bias (MobileNetV3 passes Hardsigmoid as the scale).
//   make_divisible: torchvision.models._utils._make_divisible, the channel rounding.
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"

namespace whet::models {

// max(divisor, round(v / divisor) * divisor), raised by one divisor when that loses > 10% of v.
int64_t make_divisible(double v, int64_t divisor = 8);

enum class Act { none, relu, relu6, hardswish };
nn::ModulePtr make_activation(Act a);

struct ConvNormActSpec {
  int64_t in_channels, out_channels;
  int kernel_size = 3, stride = 1, groups = 1, dilation = 1;
  Act activation = Act::relu;
  double bn_eps = 1e-5, bn_momentum = 0.1;
};

class Conv2dNormActivation : public nn::Module {
 public:
  explicit Conv2dNormActivation(const ConvNormActSpec& s);
  Tensor forward(const Tensor& x) override;
};

class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels);
  Tensor forward(const Tensor& x) override;
};

}  // namespace whet::models
