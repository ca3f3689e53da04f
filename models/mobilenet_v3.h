// MobileNetV3-Small/Large as torchvision.models.mobilenetv3 builds them (Howard et al. 2019),
// with its names: features.0 (Conv2dNormActivation 3x3/2, Hardswish), features.1..N
// (InvertedResidual: block.0 expand 1x1 [absent when expanded == input], block.{0|1}
// depthwise kxk, block.K SqueezeExcitation (fc1, fc2) where the table says so, then the 1x1
// projection without activation), features.N+1 (1x1 to 6x the last width, Hardswish),
// avgpool, flatten, classifier.0 Linear, classifier.1 Hardswish, classifier.2 Dropout(0.2),
// classifier.3 Linear. Every BatchNorm2d has eps 0.001, momentum 0.01.
// ModelOptions::width_rule picks how width_mult scales the widths: torchvision's rule, or
// timm's for its width variants (models/classifier.h); both give torchvision's table at 1.
// InvertedResidual: y = x + block(x) when stride 1 and channels match, else block(x).
#pragma once
#include "models/classifier.h"
#include "models/residual.h"

namespace whet::models {

// One row of torchvision's bneck table, before the width multiplier.
struct InvertedResidualConfig {
  int64_t input_channels;
  int kernel;
  int64_t expanded_channels, out_channels;
  bool use_se, use_hs;  // squeeze-excitation; Hardswish (else ReLU)
  int stride, dilation;
};

class InvertedResidualV3 : public ResidualBlock {
 public:
  // `c` with widths already multiplied and rounded.
  explicit InvertedResidualV3(const InvertedResidualConfig& c);
  Tensor forward(const Tensor& x) override;
  bool use_res_connect;
};

enum class MobileNetV3Arch { small, large };

class MobileNetV3 : public Classifier {
 public:
  explicit MobileNetV3(MobileNetV3Arch arch, const ModelOptions& o = {});
  Tensor forward(const Tensor& x) override;
  std::string head_prefix() const override { return "classifier.3."; }
  std::string stem_prefix() const override { return "features.0.0."; }
};

}  // namespace whet::models
