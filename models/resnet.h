// ResNet-18/34/50/101 as torchvision.models.resnet builds them (He et al. 2015, "v1.5": the
// Bottleneck strides its 3x3 conv, not its first 1x1), with torchvision's parameter and
// buffer names, so its state dicts load unchanged:
//   conv1 bn1 relu maxpool layer1..layer4 avgpool fc,
//   layerK.B.{conv1,bn1,conv2,bn2[,conv3,bn3]}, layerK.0.downsample.{0 (conv1x1), 1 (bn)}.
// Per block: y = relu(F(x) + shortcut(x)), F = conv-bn-relu-conv-bn (BasicBlock) or
// 1x1-3x3-1x1 conv-bn with ReLUs between (Bottleneck, width 4x narrower than its output).
#pragma once
#include <array>

#include "models/classifier.h"
#include "models/residual.h"

namespace whet::models {

class BasicBlock : public ResidualBlock {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t in_planes, int64_t planes, int stride, nn::ModulePtr downsample);
  Tensor forward(const Tensor& x) override;
};

class Bottleneck : public ResidualBlock {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t in_planes, int64_t planes, int stride, nn::ModulePtr downsample);
  Tensor forward(const Tensor& x) override;
};

enum class ResNetBlock { basic, bottleneck };

class ResNet : public Classifier {
 public:
  // `layers`: blocks per stage (resnet18 {2,2,2,2}, resnet50 {3,4,6,3}, ...).
  ResNet(ResNetBlock block, std::array<int, 4> layers, const ModelOptions& o = {});
  Tensor forward(const Tensor& x) override;
  std::string head_prefix() const override { return "fc."; }
  std::string stem_prefix() const override { return "conv1."; }

 private:
  double dropout_ = 0;  // before fc, in training (ModelOptions::dropout; torchvision has none)
};

std::shared_ptr<ResNet> resnet18(const ModelOptions& o = {});
std::shared_ptr<ResNet> resnet34(const ModelOptions& o = {});
std::shared_ptr<ResNet> resnet50(const ModelOptions& o = {});
std::shared_ptr<ResNet> resnet101(const ModelOptions& o = {});

}  // namespace whet::models
