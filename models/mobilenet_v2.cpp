#include "models/mobilenet_v2.h"

#include <algorithm>
#include <cmath>

#include "models/mobilenet_blocks.h"

namespace whet::models {

InvertedResidualV2::InvertedResidualV2(int64_t in, int64_t out, int stride, int expand_ratio)
    : ResidualBlock("InvertedResidual"), use_res_connect(stride == 1 && in == out) {
  WHET_CHECK(stride == 1 || stride == 2, "InvertedResidual: stride must be 1 or 2, got ", stride);
  const int64_t hidden = int64_t(std::lround(double(in) * expand_ratio));
  auto conv = std::make_shared<nn::Sequential>();
  if (expand_ratio != 1)
    conv->push_back(std::make_shared<Conv2dNormActivation>(
        ConvNormActSpec{in, hidden, 1, 1, 1, 1, Act::relu6}));
  conv->push_back(std::make_shared<Conv2dNormActivation>(
      ConvNormActSpec{hidden, hidden, 3, stride, int(hidden), 1, Act::relu6}));
  conv->push_back(std::make_shared<nn::Conv2d>(hidden, out, 1, Conv2dOptions{}, false));
  conv->push_back(std::make_shared<nn::BatchNorm2d>(out));
  register_module("conv", conv);
}

Tensor InvertedResidualV2::forward(const Tensor& x) {
  Tensor y = call_child(*this, "conv", x);
  return use_res_connect ? x + drop_branch(y) : y;
}

MobileNetV2::MobileNetV2(const ModelOptions& o) : Classifier("MobileNetV2") {
  const double width_mult = o.width_mult;
  const int64_t round_nearest = 8;
  WHET_CHECK(width_mult > 0, "MobileNetV2: width_mult must be positive, got ", width_mult);
  // t (expansion), c (output channels), n (repeats), s (stride of the first repeat)
  static const int kSetting[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                     {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t input_channel = make_divisible(32 * width_mult, round_nearest);
  const int64_t last_channel = make_divisible(1280 * std::max(1.0, width_mult), round_nearest);
  auto features = std::make_shared<nn::Sequential>();
  features->push_back(std::make_shared<Conv2dNormActivation>(
      ConvNormActSpec{o.channels_or(3), input_channel, 3, 2, 1, 1, Act::relu6}));
  for (const auto& row : kSetting) {
    const int64_t out = make_divisible(row[1] * width_mult, round_nearest);
    for (int i = 0; i < row[2]; ++i) {
      features->push_back(
          std::make_shared<InvertedResidualV2>(input_channel, out, i == 0 ? row[3] : 1, row[0]));
      input_channel = out;
    }
  }
  features->push_back(std::make_shared<Conv2dNormActivation>(
      ConvNormActSpec{input_channel, last_channel, 1, 1, 1, 1, Act::relu6}));
  register_module("features", features);
  auto classifier = std::make_shared<nn::Sequential>();
  classifier->push_back(std::make_shared<nn::Dropout>(o.dropout < 0 ? 0.2 : o.dropout));
  classifier->push_back(std::make_shared<nn::Linear>(last_channel, o.num_classes));
  register_module("classifier", classifier);
  if (o.init_weights) init_torchvision_(*this, /*linear_std=*/0.01);
}

Tensor MobileNetV2::forward(const Tensor& x) {
  Tensor h = call_child(*this, "features", x);
  h = adaptive_avg_pool2d(h, 1).flatten(1);  // torchvision's functional pool: no module
  return call_child(*this, "classifier", h);
}

}  // namespace whet::models
