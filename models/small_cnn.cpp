#include "models/small_cnn.h"

#include "models/mobilenet_blocks.h"

namespace whet::models {

SmallCNN::SmallCNN(const ModelOptions& o) : Classifier("SmallCNN") {
  WHET_CHECK(o.width_mult == 1.0, "SmallCNN: width_mult applies to MobileNets only");
  WHET_CHECK(o.dropout <= 0, "small_cnn has no classifier dropout (got a drop rate of ", o.dropout, ")");
  Pool2dOptions pool;
  pool.kernel_size = 2;
  auto features = std::make_shared<nn::Sequential>();
  features->push_back(std::make_shared<Conv2dNormActivation>(
      ConvNormActSpec{o.channels_or(1), 32, 3, 1, 1, 1, Act::relu}));
  features->push_back(std::make_shared<nn::MaxPool2d>(pool));
  features->push_back(
      std::make_shared<Conv2dNormActivation>(ConvNormActSpec{32, 64, 3, 1, 1, 1, Act::relu}));
  features->push_back(
      std::make_shared<Conv2dNormActivation>(ConvNormActSpec{64, 64, 3, 1, 1, 1, Act::relu}));
  features->push_back(std::make_shared<nn::MaxPool2d>(pool));
  features->push_back(
      std::make_shared<Conv2dNormActivation>(ConvNormActSpec{64, 128, 3, 1, 1, 1, Act::relu}));
  register_module("features", features);
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  register_module("fc", std::make_shared<nn::Linear>(128, o.num_classes));
  if (o.init_weights) init_torchvision_(*this);
}

Tensor SmallCNN::forward(const Tensor& x) {
  Tensor h = call_child(*this, "avgpool", call_child(*this, "features", x)).flatten(1);
  return call_child(*this, "fc", h);
}

}  // namespace whet::models
