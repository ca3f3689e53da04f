#include "models/resnet.h"

#include <algorithm>

namespace whet::models {

namespace {
std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int kernel, int stride) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding = (kernel - 1) / 2;
  return std::make_shared<nn::Conv2d>(in, out, kernel, o, /*bias=*/false);
}
std::shared_ptr<nn::BatchNorm2d> bn(int64_t c) { return std::make_shared<nn::BatchNorm2d>(c); }

// relu(branch + shortcut(x)), through the block's own `relu` child as torchvision's; the
// caller has applied stochastic depth to the branch.
Tensor residual(const nn::Module& block, const Tensor& x, const Tensor& branch) {
  Tensor shortcut =
      block.named_children().back().first == "downsample" ? call_child(block, "downsample", x) : x;
  return call_child(block, "relu", branch + shortcut);
}
}  // namespace

BasicBlock::BasicBlock(int64_t in_planes, int64_t planes, int stride, nn::ModulePtr downsample)
    : ResidualBlock("BasicBlock") {
  register_module("conv1", conv(in_planes, planes, 3, stride));
  register_module("bn1", bn(planes));
  register_module("relu", std::make_shared<nn::ReLU>());
  register_module("conv2", conv(planes, planes, 3, 1));
  register_module("bn2", bn(planes));
  if (downsample) register_module("downsample", downsample);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = call_child(*this, "relu", call_child(*this, "bn1", call_child(*this, "conv1", x)));
  h = call_child(*this, "bn2", call_child(*this, "conv2", h));
  return residual(*this, x, drop_branch(h));
}

Bottleneck::Bottleneck(int64_t in_planes, int64_t planes, int stride, nn::ModulePtr downsample)
    : ResidualBlock("Bottleneck") {
  register_module("conv1", conv(in_planes, planes, 1, 1));
  register_module("bn1", bn(planes));
  register_module("conv2", conv(planes, planes, 3, stride));
  register_module("bn2", bn(planes));
  register_module("conv3", conv(planes, planes * kExpansion, 1, 1));
  register_module("bn3", bn(planes * kExpansion));
  register_module("relu", std::make_shared<nn::ReLU>());
  if (downsample) register_module("downsample", downsample);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor h = call_child(*this, "relu", call_child(*this, "bn1", call_child(*this, "conv1", x)));
  h = call_child(*this, "relu", call_child(*this, "bn2", call_child(*this, "conv2", h)));
  h = call_child(*this, "bn3", call_child(*this, "conv3", h));
  return residual(*this, x, drop_branch(h));
}

ResNet::ResNet(ResNetBlock block, std::array<int, 4> layers, const ModelOptions& o)
    : Classifier("ResNet") {
  WHET_CHECK(o.width_mult == 1.0, "ResNet: width_mult applies to MobileNets only");
  WHET_CHECK(o.dropout < 1, "ResNet: dropout must be below 1, got ", o.dropout);
  dropout_ = std::max(0.0, o.dropout);
  const int64_t expansion =
      block == ResNetBlock::basic ? BasicBlock::kExpansion : Bottleneck::kExpansion;
  register_module("conv1", conv(o.channels_or(3), 64, 7, 2));
  register_module("bn1", bn(64));
  register_module("relu", std::make_shared<nn::ReLU>());
  Pool2dOptions pool;
  pool.kernel_size = 3;
  pool.stride = 2;
  pool.padding = 1;
  register_module("maxpool", std::make_shared<nn::MaxPool2d>(pool));
  int64_t in_planes = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = int64_t(64) << stage;
    const int stride = stage == 0 ? 1 : 2;
    auto seq = std::make_shared<nn::Sequential>();
    for (int b = 0; b < layers[size_t(stage)]; ++b) {
      const int s = b == 0 ? stride : 1;
      nn::ModulePtr down;
      if (b == 0 && (stride != 1 || in_planes != planes * expansion))
        down = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
            conv(in_planes, planes * expansion, 1, stride), bn(planes * expansion)});
      if (block == ResNetBlock::basic)
        seq->push_back(std::make_shared<BasicBlock>(in_planes, planes, s, down));
      else
        seq->push_back(std::make_shared<Bottleneck>(in_planes, planes, s, down));
      in_planes = planes * expansion;
    }
    register_module("layer" + std::to_string(stage + 1), seq);
  }
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  register_module("fc", std::make_shared<nn::Linear>(in_planes, o.num_classes));
  if (o.init_weights) init_torchvision_(*this);  // fc keeps nn.Linear's default, as torchvision
}

Tensor ResNet::forward(const Tensor& x) {
  Tensor h = x;
  for (const auto& [name, child] : named_children()) {
    h = child->forward(h);
    if (name == "avgpool") h = dropout(h.flatten(1), dropout_, is_training());  // timm's drop_rate
  }
  return h;
}

std::shared_ptr<ResNet> resnet18(const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::basic, std::array<int, 4>{2, 2, 2, 2}, o);
}
std::shared_ptr<ResNet> resnet34(const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::basic, std::array<int, 4>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet50(const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::bottleneck, std::array<int, 4>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet101(const ModelOptions& o) {
  return std::make_shared<ResNet>(ResNetBlock::bottleneck, std::array<int, 4>{3, 4, 23, 3}, o);
}

}  // namespace whet::models
