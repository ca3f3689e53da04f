// MobileNetV2 as torchvision.models.mobilenetv2 builds it (Sandler et al. 2018), with its
// names: features.0 (Conv2dNormActivation 3x3/2, ReLU6), features.1..17 (InvertedResidual:
// conv.0 expand 1x1 [absent when t = 1], conv.{0|1} depthwise 3x3, then conv.{N-1} 1x1
// projection and conv.N BatchNorm2d, no activation), features.18 (1x1 to last_channel),
// then adaptive average pool, flatten, classifier.0 Dropout(0.2), classifier.1 Linear.
// InvertedResidual: y = x + block(x) when stride 1 and channels match, else block(x).
#pragma once
#include "models/classifier.h"
#include "models/residual.h"

namespace whet::models {

class InvertedResidualV2 : public ResidualBlock {
 public:
  InvertedResidualV2(int64_t in, int64_t out, int stride, int expand_ratio);
  Tensor forward(const Tensor& x) override;
  bool use_res_connect;
};

class MobileNetV2 : public Classifier {
 public:
  // width_mult scales every width (rounded by make_divisible to multiples of 8); the last
  // conv never narrows below 1280.
  explicit MobileNetV2(const ModelOptions& o = {});
  Tensor forward(const Tensor& x) override;
  std::string head_prefix() const override { return "classifier.1."; }
  std::string stem_prefix() const override { return "features.0.0."; }
};

}  // namespace whet::models
