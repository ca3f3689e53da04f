#include "models/registry.h"

#include "models/mobilenet_v2.h"
#include "models/mobilenet_v3.h"
#include "models/residual.h"
#include "models/resnet.h"
#include "models/small_cnn.h"

namespace whet::models {

namespace {
template <class F>
std::function<ClassifierPtr(const ModelOptions&)> factory(F make) {
  return [make](const ModelOptions& o) -> ClassifierPtr { return make(o); };
}
}  // namespace

const std::vector<ModelInfo>& model_registry() {
  static const std::vector<ModelInfo> registry = {
      {"resnet18", "ResNet-18 (BasicBlock [2, 2, 2, 2])", {224, 224, 3}, factory(resnet18)},
      {"resnet34", "ResNet-34 (BasicBlock [3, 4, 6, 3])", {224, 224, 3}, factory(resnet34)},
      {"resnet50", "ResNet-50 v1.5 (Bottleneck [3, 4, 6, 3])", {224, 224, 3}, factory(resnet50)},
      {"resnet101",
       "ResNet-101 v1.5 (Bottleneck [3, 4, 23, 3])",
       {224, 224, 3},
       factory(resnet101)},
      {"mobilenet_v2",
       "MobileNetV2 (inverted residuals, ReLU6)",
       {224, 224, 3},
       factory([](const ModelOptions& o) { return std::make_shared<MobileNetV2>(o); })},
      {"mobilenet_v3_small",
       "MobileNetV3-Small (squeeze-excitation, Hardswish)",
       {224, 224, 3},
       factory([](const ModelOptions& o) {
         return std::make_shared<MobileNetV3>(MobileNetV3Arch::small, o);
       })},
      {"mobilenet_v3_large",
       "MobileNetV3-Large (squeeze-excitation, Hardswish)",
       {224, 224, 3},
       factory([](const ModelOptions& o) {
         return std::make_shared<MobileNetV3>(MobileNetV3Arch::large, o);
       })},
      {"small_cnn",
       "small CNN for tests and CPU demos (3 conv-bn-relu, 28x28x1)",
       {28, 28, 1},
       factory([](const ModelOptions& o) { return std::make_shared<SmallCNN>(o); })},
  };
  return registry;
}

const ModelInfo* find_model(const std::string& name) {
  for (const auto& info : model_registry())
    if (info.name == name) return &info;
  return nullptr;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& info : model_registry()) names.push_back(info.name);
  return names;
}

ClassifierPtr create_model(const std::string& name, const ModelOptions& o) {
  const ModelInfo* info = find_model(name);
  if (!info) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    WHET_FAIL("unknown model '", name, "' (known: ", known, ")");
  }
  WHET_CHECK(o.num_classes > 0, name, ": num_classes must be positive, got ", o.num_classes);
  WHET_CHECK(o.in_channels >= 0, name, ": in_channels must be positive, got ", o.in_channels);
  WHET_CHECK(o.bn_eps >= 0 && o.bn_momentum >= 0 && o.bn_momentum <= 1, name,
             ": BatchNorm eps must be positive and momentum in (0, 1], got eps ", o.bn_eps,
             ", momentum ", o.bn_momentum);
  WHET_CHECK(o.width_rule == WidthRule::torchvision || name.rfind("mobilenet_v3", 0) == 0, name,
             ": the timm width rule applies to MobileNetV3 only (timm's other models share "
             "torchvision's widths)");
  ClassifierPtr m = info->create(o);
  for (auto& [path, module] : m->named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(module)) {
      if (o.bn_eps > 0) bn->eps = o.bn_eps;
      if (o.bn_momentum > 0) bn->momentum = o.bn_momentum;
    }
  if (o.drop_path > 0)
    WHET_CHECK(set_drop_path(*m, o.drop_path) > 0, name, " has no residual blocks for a drop path rate");
  return m;
}

}  // namespace whet::models
