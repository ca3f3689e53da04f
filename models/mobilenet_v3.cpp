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

// timm's expansion ratio of each row above (its arch strings' e values): under the timm width
// rule a block expands its rounded input width by this ratio. ratio x input reproduces the
// table's expanded width at width 1 (3.67 x 24 = 88.08 -> 88). 1: no expansion (timm's
// depthwise-separable first block).
const std::vector<double> kLargeTimmRatio = {1, 4, 3, 3, 3, 3, 6, 2.5, 2.3, 2.3, 6, 6, 6, 6, 6};
const std::vector<double> kSmallTimmRatio = {1, 4.5, 3.67, 4, 6, 6, 3, 3, 6, 6, 6};

// Every width of the network, scaled by width_mult under rule r.
struct Widths {
  std::vector<InvertedResidualConfig> blocks;
  int64_t stem, last_conv, head;  // features.0's output, features.N+1's, classifier.0's
};

Widths scaled_widths(MobileNetV3Arch arch, double width_mult, WidthRule r) {
  const bool large = arch == MobileNetV3Arch::large;
  auto adjust = [&](double c) { return make_divisible(c * width_mult, 8); };
  Widths w{large ? kLarge : kSmall, 0, 0, 0};
  const double head_features = large ? 1280 : 1024,
               last_conv = 6.0 * double(w.blocks.back().out_channels);
  if (r == WidthRule::torchvision) {
    for (auto& c : w.blocks) {
      c.input_channels = adjust(double(c.input_channels));
      c.expanded_channels = adjust(double(c.expanded_channels));
      c.out_channels = adjust(double(c.out_channels));
    }
    w.stem = w.blocks.front().input_channels;
    w.last_conv = 6 * w.blocks.back().out_channels;
    w.head = adjust(head_features);
    return w;
  }
  const std::vector<double>& ratio = large ? kLargeTimmRatio : kSmallTimmRatio;
  w.stem = width_mult < 0.75 ? 16 : adjust(16);  // timm's fix_stem
  int64_t in = w.stem;
  for (size_t i = 0; i < w.blocks.size(); ++i) {
    auto& c = w.blocks[i];
    c.input_channels = in;
    c.expanded_channels = ratio[i] == 1 ? in : make_divisible(double(in) * ratio[i], 8);
    c.out_channels = adjust(double(c.out_channels));
    in = c.out_channels;
  }
  w.last_conv = adjust(last_conv);
  w.head = int64_t(head_features);
  return w;
}

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
  const Widths widths = scaled_widths(arch, width_mult, o.width_rule);

  auto features = std::make_shared<nn::Sequential>();
  features->push_back(std::make_shared<Conv2dNormActivation>(
      cna(o.channels_or(3), widths.stem, 3, 2, 1, 1, Act::hardswish)));
  for (const auto& c : widths.blocks) features->push_back(std::make_shared<InvertedResidualV3>(c));
  const int64_t lastconv_in = widths.blocks.back().out_channels, lastconv_out = widths.last_conv;
  features->push_back(std::make_shared<Conv2dNormActivation>(
      cna(lastconv_in, lastconv_out, 1, 1, 1, 1, Act::hardswish)));
  register_module("features", features);
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  auto classifier = std::make_shared<nn::Sequential>();
  classifier->push_back(std::make_shared<nn::Linear>(lastconv_out, widths.head));
  classifier->push_back(std::make_shared<nn::Hardswish>());
  classifier->push_back(std::make_shared<nn::Dropout>(o.dropout < 0 ? 0.2 : o.dropout));
  classifier->push_back(std::make_shared<nn::Linear>(widths.head, o.num_classes));
  register_module("classifier", classifier);
  if (o.init_weights) init_torchvision_(*this, /*linear_std=*/0.01);
}

Tensor MobileNetV3::forward(const Tensor& x) {
  Tensor h = call_child(*this, "avgpool", call_child(*this, "features", x)).flatten(1);
  return call_child(*this, "classifier", h);
}

}  // namespace whet::models
