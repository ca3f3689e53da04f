#include "models/mobilenet_v3.h"

#include <vector>

#include "models/mobilenet_blocks.h"

namespace whet::models {

namespace {
constexpr double kBnEps = 0.001, kBnMomentum = 0.01;

// torchvision's _mobilenet_v3_conf tables (reduced_tail=False, dilated=False).
// input, kernel, expanded, out, use_se, use_hs, stride, dilation
const std::vector<InvertedResidualConfig> kLarge = {
    {16, 3, 16, 16, false, false, 1, 1},  {16, 3, 64, 24, false, false, 2, 1},
    {24, 3, 72, 24, false, false, 1, 1},  {24, 5, 72, 40, true, false, 2, 1},
    {40, 5, 120, 40, true, false, 1, 1},  {40, 5, 120, 40, true, false, 1, 1},
    {40, 3, 240, 80, false, true, 2, 1},  {80, 3, 200, 80, false, true, 1, 1},
    {80, 3, 184, 80, false, true, 1, 1},  {80, 3, 184, 80, false, true, 1, 1},
    {80, 3, 480, 112, true, true, 1, 1},  {112, 3, 672, 112, true, true, 1, 1},
    {112, 5, 672, 160, true, true, 2, 1}, {160, 5, 960, 160, true, true, 1, 1},
    {160, 5, 960, 160, true, true, 1, 1},
};
const std::vector<InvertedResidualConfig> kSmall = {
    {16, 3, 16, 16, true, false, 2, 1},  {16, 3, 72, 24, false, false, 2, 1},
    {24, 3, 88, 24, false, false, 1, 1}, {24, 5, 96, 40, true, true, 2, 1},
    {40, 5, 240, 40, true, true, 1, 1},  {40, 5, 240, 40, true, true, 1, 1},
    {40, 5, 120, 48, true, true, 1, 1},  {48, 5, 144, 48, true, true, 1, 1},
    {48, 5, 288, 96, true, true, 2, 1},  {96, 5, 576, 96, true, true, 1, 1},
    {96, 5, 576, 96, true, true, 1, 1},
};

ConvNormActSpec cna(int64_t in, int64_t out, int kernel, int stride, int groups, int dilation,
                    Act act) {
  return ConvNormActSpec{in, out, kernel, stride, groups, dilation, act, kBnEps, kBnMomentum};
}
}  // namespace

InvertedResidualV3::InvertedResidualV3(const InvertedResidualConfig& c)
    : ResidualBlock("InvertedResidual"),
      use_res_connect(c.stride == 1 && c.input_channels == c.out_channels) {
  WHET_CHECK(c.stride == 1 || c.stride == 2, "InvertedResidual: illegal stride ", c.stride);
  const Act act = c.use_hs ? Act::hardswish : Act::relu;
  auto block = std::make_shared<nn::Sequential>();
  if (c.expanded_channels != c.input_channels)
    block->push_back(std::make_shared<Conv2dNormActivation>(
        cna(c.input_channels, c.expanded_channels, 1, 1, 1, 1, act)));
  const int stride = c.dilation > 1 ? 1 : c.stride;
  block->push_back(std::make_shared<Conv2dNormActivation>(
      cna(c.expanded_channels, c.expanded_channels, c.kernel, stride, int(c.expanded_channels),
          c.dilation, act)));
  if (c.use_se)
    block->push_back(std::make_shared<SqueezeExcitation>(
        c.expanded_channels, make_divisible(double(c.expanded_channels / 4), 8)));
  block->push_back(std::make_shared<Conv2dNormActivation>(
      cna(c.expanded_channels, c.out_channels, 1, 1, 1, 1, Act::none)));
  register_module("block", block);
}

Tensor InvertedResidualV3::forward(const Tensor& x) {
  Tensor y = call_child(*this, "block", x);
  return use_res_connect ? drop_branch(y) + x : y;
}

MobileNetV3::MobileNetV3(MobileNetV3Arch arch, const ModelOptions& o) : Classifier("MobileNetV3") {
  const double width_mult = o.width_mult;
  WHET_CHECK(width_mult > 0, "MobileNetV3: width_mult must be positive, got ", width_mult);
  auto adjust = [&](int64_t c) { return make_divisible(double(c) * width_mult, 8); };
  std::vector<InvertedResidualConfig> setting = arch == MobileNetV3Arch::large ? kLarge : kSmall;
  for (auto& c : setting) {
    c.input_channels = adjust(c.input_channels);
    c.expanded_channels = adjust(c.expanded_channels);
    c.out_channels = adjust(c.out_channels);
  }
  const int64_t last_channel = adjust(arch == MobileNetV3Arch::large ? 1280 : 1024);

  auto features = std::make_shared<nn::Sequential>();
  features->push_back(std::make_shared<Conv2dNormActivation>(
      cna(o.channels_or(3), setting.front().input_channels, 3, 2, 1, 1, Act::hardswish)));
  for (const auto& c : setting) features->push_back(std::make_shared<InvertedResidualV3>(c));
  const int64_t lastconv_in = setting.back().out_channels, lastconv_out = 6 * lastconv_in;
  features->push_back(std::make_shared<Conv2dNormActivation>(
      cna(lastconv_in, lastconv_out, 1, 1, 1, 1, Act::hardswish)));
  register_module("features", features);
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  auto classifier = std::make_shared<nn::Sequential>();
  classifier->push_back(std::make_shared<nn::Linear>(lastconv_out, last_channel));
  classifier->push_back(std::make_shared<nn::Hardswish>());
  classifier->push_back(std::make_shared<nn::Dropout>(o.dropout < 0 ? 0.2 : o.dropout));
  classifier->push_back(std::make_shared<nn::Linear>(last_channel, o.num_classes));
  register_module("classifier", classifier);
  if (o.init_weights) init_torchvision_(*this, /*linear_std=*/0.01);
}

Tensor MobileNetV3::forward(const Tensor& x) {
  Tensor h = call_child(*this, "avgpool", call_child(*this, "features", x)).flatten(1);
  return call_child(*this, "classifier", h);
}

}  // namespace whet::models
