#include "tools/whet/load_classifier.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <filesystem>

#include "core/error.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/timm_names.h"
#include "train/checkpoint.h"
#include "train/config.h"
#include "train/model_settings.h"
#include "train/setup.h"

namespace whet::cli {

namespace {
const Tensor* find_tensor(const nn::NamedTensors& sd, const std::string& name) {
  for (const auto& [n, t] : sd)
    if (n == name) return &t;
  return nullptr;
}
// What the names and shapes do not say about the model that wrote `weights`, where its run
// recorded it: the metadata of weights from --save or `whet convert`, or the run's config
// (checkpoints).
void run_model_options(const std::map<std::string, std::string>& metadata,
                       const std::string& weights, models::ModelOptions& o) {
  if (auto it = metadata.find("config"); it != metadata.end()) {
    try {
      train::TrainConfig c;
      train::apply_toml(c, it->second, weights + " metadata");
      models::ModelOptions run = o;
      train::apply_model_settings(c, run);
      // Settings the run left unset are what the weights imply (o's).
      if (c.bn_eps == 0) run.bn_eps = o.bn_eps;
      if (c.bn_momentum == 0) run.bn_momentum = o.bn_momentum;
      if (c.width_rule.empty()) run.width_rule = o.width_rule;
      o = run;
    } catch (const Error&) {
      // A config of another whet version: the model's own settings apply.
    }
  }
  train::read_model_settings(metadata, weights, o);
}

}  // namespace

LoadedClassifier load_classifier(const std::string& model_name, const std::string& weights,
                                 int64_t num_classes, double width_mult) {
  models::ModelOptions o;
  o.init_weights = false;  // the strict load below overwrites every weight
  // A throwaway instance tells where the head and stem live (names differ per family).
  const models::ClassifierPtr probe = models::create_model(model_name, o);
  const std::string head_key = probe->head_prefix() + "weight";
  const std::string stem_key = probe->stem_prefix() + "weight";
  std::map<std::string, std::string> out_metadata;

  // A checkpoint's model (or its weight average), or a plain state dict; timm's names
  // translated. PyTorch layouts.
  models::ImportedWeights imported;
  try {
    imported = models::import_weights(model_name, train::checkpoint_weights(weights));
  } catch (const Error& e) {
    throw Error(weights + ": " + e.what());
  }
  const nn::NamedTensors& sd = imported.tensors;
  if (!io::looks_like_pth(weights)) out_metadata = io::load_safetensors(weights).metadata;
  o.bn_eps = imported.bn_eps;
  o.bn_momentum = imported.bn_momentum;
  o.width_rule = imported.width_rule;
  run_model_options(out_metadata, weights, o);
  if (width_mult > 0) o.width_mult = width_mult;
  const Tensor* head = find_tensor(sd, head_key);
  const Tensor* stem = find_tensor(sd, stem_key);
  WHET_CHECK(head && head->dim() == 2, weights, ": no 2-D '", head_key, "': not a ", model_name,
             " checkpoint?");
  WHET_CHECK(stem && stem->dim() == 4, weights, ": no 4-D '", stem_key, "': not a ", model_name,
             " checkpoint?");
  const int64_t file_classes = head->size(0);
  WHET_CHECK(num_classes == 0 || num_classes == file_classes, "--num-classes ", num_classes, ": ",
             weights, " has a ", file_classes, "-class head ('", head_key, "' ",
             shape_str(head->shape()), ")");
  o.num_classes = file_classes;
  o.in_channels = stem->size(1);  // (O, I, KH, KW)

  LoadedClassifier out;
  out.metadata = std::move(out_metadata);
  out.model = models::create_model(model_name, o);
  try {
    io::load_pytorch_state_dict(*out.model, sd, /*strict=*/true);
  } catch (const Error& e) {
    throw Error(weights + ": " + e.what());
  }
  out.model->eval();
  out.class_names = class_names_from_metadata(out.metadata);
  if (!out.class_names.empty() && int64_t(out.class_names.size()) != file_classes)
    out.class_names.clear();  // stale metadata: indices are better than wrong names
  return out;
}

data::TransformPtr run_eval_transform(const LoadedClassifier& lc, const std::string& model_name,
                                      const std::string& weights, int64_t image_size,
                                      const std::string& augment, std::string& source,
                                      int64_t* resize_side) {
  train::TrainConfig c;
  c.model = model_name;
  std::vector<std::string> from;
  const auto config_file = std::filesystem::path(weights).parent_path() / "config.toml";
  auto config_meta = lc.metadata.find("config");
  try {
    if (std::filesystem::exists(config_file)) {
      train::apply_toml_file(c, config_file.string());
      from.push_back(config_file.string());
    } else if (config_meta != lc.metadata.end()) {
      train::apply_toml(c, config_meta->second, weights + " metadata");
      from.push_back("the weights' config");
    }
  } catch (const Error&) {
    // A config of another whet version: the other sources and the defaults still apply.
    c = train::TrainConfig();
    c.model = model_name;
  }
  c.model = model_name;  // a config.toml of another model must not change what runs
  if (auto it = lc.metadata.find("image_size"); it != lc.metadata.end()) {
    try {
      c.image_size = std::stoll(it->second);
      from.push_back("the weights' image_size");
    } catch (const std::exception&) {
    }
  }
  if (auto it = lc.metadata.find("augment"); it != lc.metadata.end()) {
    c.augment = it->second;
    from.push_back("the weights' augment");
  }
  if (image_size > 0) c.image_size = image_size;
  if (!augment.empty()) c.augment = augment;
  const auto& augments = train::augment_choices();
  WHET_CHECK(std::find(augments.begin(), augments.end(), c.augment) != augments.end(),
             "augment '", c.augment, "': expected imagenet, crop, flip or none");
  c.in_channels = lc.model->in_channels();
  const int64_t size = train::model_image_size(c);
  // data::eval_transform resizes to size * 256 / 224 before its centre crop; the others to size.
  if (resize_side) *resize_side = c.augment == "imagenet" ? size * 256 / 224 : size;
  source = c.augment + " preprocessing at " + std::to_string(size) + "x" + std::to_string(size);
  if (!from.empty()) {
    source += " (settings from ";
    for (size_t i = 0; i < from.size(); ++i) source += (i ? ", " : "") + from[i];
    source += ")";
  }
  return train::eval_transform_for(c);
}

std::vector<std::string> class_names_from_metadata(
    const std::map<std::string, std::string>& metadata) {
  auto it = metadata.find("class_names");
  if (it == metadata.end() || it->second.empty()) return {};
  const std::string& v = it->second;
  if (v.front() == '[') {
    const nlohmann::json j = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
    std::vector<std::string> names;
    if (j.is_array())
      for (const auto& n : j)
        if (n.is_string()) names.push_back(n.get<std::string>());
    if (j.is_array() && names.size() == j.size()) return names;
  }
  std::vector<std::string> names;
  std::istringstream is(v);
  for (std::string n; std::getline(is, n, ',');) names.push_back(n);
  return names;
}

std::vector<std::string> read_class_names_file(const std::string& path) {
  std::ifstream f(path);
  WHET_CHECK(f.good(), path, ": cannot open the class names file");
  std::vector<std::string> names;
  for (std::string line; std::getline(f, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  WHET_CHECK(!names.empty(), path, ": no class names in it");
  return names;
}

void add_classifier_options(CLI::App* cmd, ClassifierArgs& a) {
  cmd->add_option("--model", a.model, "Model name (see `whet models`)")->required();
  cmd->add_option("--weights", a.weights, "Weights (.safetensors or .pth), loaded strictly")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--num-classes", a.num_classes,
                  "Classes of the head (default: read from the weights; must agree)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--image-size", a.image_size,
                  "Input size after the centre crop (default: the model's)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--augment", a.augment,
                  "The training run's augment setting, which picks the evaluation transform "
                  "(default: from the run's config.toml or the weights' metadata, else imagenet)")
      ->check(CLI::IsMember(train::augment_choices()));
  cmd->add_option("--width-mult", a.width_mult,
                  "MobileNets' width multiplier (default: from the weights' metadata or run "
                  "config, else 1; 0.5 for timm's mobilenetv2_050)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--fast-decode", a.fast_decode,
                "Decode JPEGs at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, several times "
                "faster on large photos) while their shorter side keeps the size the evaluation "
                "transform resizes to; pixels then differ slightly from a full decode");
}

}  // namespace whet::cli
