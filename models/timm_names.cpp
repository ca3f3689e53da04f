#include "models/timm_names.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "core/error.h"

namespace whet::models {

namespace {

enum class Family { other, v2, v3 };

Family family_of(const std::string& model_name) {
  if (model_name == "mobilenet_v2") return Family::v2;
  if (model_name.rfind("mobilenet_v3", 0) == 0) return Family::v3;
  return Family::other;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "blocks.S.J.rest" -> ((S, J), "rest"); false for any other name.
bool parse_block_key(const std::string& name, std::pair<int64_t, int64_t>& block,
                     std::string& rest) {
  if (!starts_with(name, "blocks.")) return false;
  size_t pos = 7;
  int64_t idx[2];
  for (int64_t& v : idx) {
    const size_t dot = name.find('.', pos);
    if (dot == std::string::npos || dot == pos) return false;
    const std::string digits = name.substr(pos, dot - pos);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    v = std::stoll(digits);
    pos = dot + 1;
  }
  block = {idx[0], idx[1]};
  rest = name.substr(pos);
  return !rest.empty();
}

// One step of a block: a convolution and its BatchNorm, or the squeeze-excitation.
struct Unit {
  std::string conv, bn;  // timm's layer names; conv "se" for the squeeze-excitation
};

// What a timm block is, told by its layers, and its steps in order of computation.
struct BlockLayout {
  enum Kind { inverted_residual, depthwise_separable, conv_bn_act } kind;
  std::vector<Unit> units;
};

BlockLayout layout_of(const std::set<std::string>& layers, const std::string& where) {
  auto has = [&](const char* l) { return layers.count(l) > 0; };
  const bool se = has("se");
  BlockLayout b;
  if (has("conv_pwl")) {  // timm's InvertedResidual: expand, depthwise, [SE], project
    b.kind = BlockLayout::inverted_residual;
    b.units = {{"conv_pw", "bn1"}, {"conv_dw", "bn2"}};
    if (se) b.units.push_back({"se", ""});
    b.units.push_back({"conv_pwl", "bn3"});
  } else if (has("conv_dw") && has("conv_pw")) {  // DepthwiseSeparableConv: dw, [SE], project
    b.kind = BlockLayout::depthwise_separable;
    b.units = {{"conv_dw", "bn1"}};
    if (se) b.units.push_back({"se", ""});
    b.units.push_back({"conv_pw", "bn2"});
  } else if (has("conv") && has("bn1")) {  // ConvBnAct (MobileNetV3's last 1x1)
    b.kind = BlockLayout::conv_bn_act;
    b.units = {{"conv", "bn1"}};
  } else {
    std::string seen;
    for (const auto& l : layers) seen += (seen.empty() ? "" : ", ") + l;
    WHET_FAIL(where, ": a timm block with layers ", seen,
              " fits no MobileNet block (inverted residual, depthwise separable, conv-bn)");
  }
  for (const auto& l : layers) {
    bool known = false;
    for (const Unit& u : b.units) known = known || l == u.conv || l == u.bn;
    WHET_CHECK(known, where, ": timm block layer '", l, "' has no counterpart in torchvision's ",
               "MobileNet block");
  }
  return b;
}

// torchvision's path, below features.F., of timm's `layer`.`tail` in a block laid out as `b`.
// V3 (InvertedResidual.block): step k is block.k, a Conv2dNormActivation (.0 conv, .1 bn) or
// a SqueezeExcitation (fc1, fc2). V2 (InvertedResidual.conv): every step but the last is a
// Conv2dNormActivation conv.k (.0, .1); the projection is conv.k and its BatchNorm conv.k+1.
std::string block_path(Family fam, const BlockLayout& b, const std::string& layer,
                       const std::string& tail, const std::string& where) {
  if (b.kind == BlockLayout::conv_bn_act) return (layer == "conv" ? "0." : "1.") + tail;
  const size_t n = b.units.size();
  for (size_t k = 0; k < n; ++k) {
    const Unit& u = b.units[k];
    if (layer != u.conv && layer != u.bn) continue;
    const std::string step = std::to_string(k);
    if (u.conv == "se") {
      WHET_CHECK(fam == Family::v3, where, ": a squeeze-excitation in a MobileNetV2 block");
      if (starts_with(tail, "conv_reduce.")) return "block." + step + ".fc1." + tail.substr(12);
      if (starts_with(tail, "conv_expand.")) return "block." + step + ".fc2." + tail.substr(12);
      WHET_FAIL(where, ": unknown squeeze-excitation entry 'se.", tail, "'");
    }
    const bool is_conv = layer == u.conv;
    if (fam == Family::v3) return "block." + step + (is_conv ? ".0." : ".1.") + tail;
    if (k + 1 < n) return "conv." + step + (is_conv ? ".0." : ".1.") + tail;
    return "conv." + std::to_string(is_conv ? k : k + 1) + "." + tail;
  }
  WHET_FAIL(where, ": no step for layer ", layer);  // layout_of admitted only known layers
}

std::string first_component(const std::string& s) { return s.substr(0, s.find('.')); }

// What follows "first." in s ("" when nothing does).
std::string after(const std::string& s, const std::string& first) {
  return s.size() > first.size() ? s.substr(first.size() + 1) : std::string();
}

}  // namespace

bool has_timm_mobilenet_names(const nn::NamedTensors& sd) {
  for (const auto& [name, t] : sd)
    if (name == "conv_stem.weight") return true;
  return false;
}

ImportedWeights import_weights(const std::string& model_name, nn::NamedTensors sd) {
  ImportedWeights out;
  if (!has_timm_mobilenet_names(sd)) {
    out.tensors = std::move(sd);
    return out;
  }
  const Family fam = family_of(model_name);
  WHET_CHECK(fam != Family::other, "the weights carry timm's MobileNet names (conv_stem, "
             "blocks.*), and ", model_name, " is no MobileNet: use --model mobilenet_v2 for "
             "timm's mobilenetv2_*, mobilenet_v3_large or mobilenet_v3_small for its "
             "mobilenetv3_*");

  // Blocks in (stage, index) order, each numbered from 1 as torchvision's features.F, with
  // the set of its layers.
  std::map<std::pair<int64_t, int64_t>, std::set<std::string>> block_layers;
  for (const auto& [name, t] : sd) {
    std::pair<int64_t, int64_t> block;
    std::string rest;
    if (parse_block_key(name, block, rest)) block_layers[block].insert(first_component(rest));
  }
  std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, BlockLayout>> blocks;
  int64_t f = 0;
  for (const auto& [block, layers] : block_layers) {
    const std::string where =
        "timm block blocks." + std::to_string(block.first) + "." + std::to_string(block.second);
    blocks.emplace(block, std::make_pair(++f, layout_of(layers, where)));
  }
  const std::string last = "features." + std::to_string(f + 1) + ".";  // V2's head conv

  for (auto& [name, t] : sd) {
    std::pair<int64_t, int64_t> block;
    std::string rest, renamed;
    const std::string layer = first_component(name), tail = after(name, layer);
    if (parse_block_key(name, block, rest)) {
      const auto& [index, layout] = blocks.at(block);
      const std::string block_layer = first_component(rest);
      renamed = "features." + std::to_string(index) + "." +
                block_path(fam, layout, block_layer, after(rest, block_layer), name);
    } else if (layer == "conv_stem") {
      renamed = "features.0.0." + tail;
    } else if (layer == "bn1") {
      renamed = "features.0.1." + tail;
    } else if (fam == Family::v2 && layer == "conv_head") {
      renamed = last + "0." + tail;
    } else if (fam == Family::v2 && layer == "bn2") {
      renamed = last + "1." + tail;
    } else if (fam == Family::v2 && layer == "classifier") {
      renamed = "classifier.1." + tail;
    } else if (fam == Family::v3 && layer == "conv_head") {
      renamed = "classifier.0." + tail;
      // A 1x1 convolution of the pooled features is a Linear of the same (O, I) values.
      if (t.dim() == 4 && t.size(2) == 1 && t.size(3) == 1) t = t.reshape({t.size(0), t.size(1)});
    } else if (fam == Family::v3 && layer == "classifier") {
      renamed = "classifier.3." + tail;
    } else {
      continue;  // left as it is: loading reports it as unexpected, by its own name
    }
    name = renamed;
  }
  out.tensors = std::move(sd);
  out.source = "timm";
  if (fam == Family::v3) {
    out.bn_eps = 1e-5;  // timm's BatchNorm2d defaults, where torchvision's V3 sets its own
    out.bn_momentum = 0.1;
    out.width_rule = WidthRule::timm;
  }
  return out;
}

}  // namespace whet::models
