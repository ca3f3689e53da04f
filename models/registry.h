// The model zoo by name, as torchvision.models.get_model / timm.create_model:
//   models::ModelOptions o;
//   o.num_classes = 10;
//   auto m = whet::models::create_model("resnet50", o);
// Names: resnet18 resnet34 resnet50 resnet101 mobilenet_v2 mobilenet_v3_small
// mobilenet_v3_large small_cnn. Parameter names follow torchvision, so its checkpoints load
// through io::load_weights unchanged.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace whet::models {

struct ModelInfo {
  std::string name, description;
  Shape default_input;  // (H, W, C) of one image
  std::function<ClassifierPtr(const ModelOptions&)> create;
};

const std::vector<ModelInfo>& model_registry();
// nullptr when no model has this name.
const ModelInfo* find_model(const std::string& name);
std::vector<std::string> model_names();
// Throws whet::Error listing the known names when `name` is unknown, and for options the
// model does not take.
ClassifierPtr create_model(const std::string& name, const ModelOptions& o = {});

}  // namespace whet::models
