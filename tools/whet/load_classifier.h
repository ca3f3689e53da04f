// Building a zoo model around a weights file for `whet eval` and `whet predict`: the head's
// class count and the stem's input channels are read from the file when not given (a
// fine-tuned 10-class, 1-channel checkpoint needs no flags to describe itself), the weights
// load strictly, and class names come from the file's metadata when it has them.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/transforms.h"
#include "models/registry.h"

namespace whet::cli {

// The options `whet eval` and `whet predict` share: the model, its weights and how images are
// prepared (see run_eval_transform).
struct ClassifierArgs {
  std::string model, weights, augment;
  int64_t num_classes = 0, image_size = 0;
  double width_mult = 0;  // 0: from the weights (metadata or run config), else 1
  bool fast_decode = false;  // JPEGs decode at a reduced scale (data/image_codec.h min_side)
};
void add_classifier_options(CLI::App* cmd, ClassifierArgs& a);

struct LoadedClassifier {
  models::ClassifierPtr model;                  // eval mode, on the CPU
  std::vector<std::string> class_names;         // from the weights' metadata; empty when none
  std::map<std::string, std::string> metadata;  // safetensors metadata; empty for .pth
};

// num_classes 0: the head's row count in the file. width_mult 0: the file's metadata or run
// config says, else 1. Throws whet::Error naming the file for an
// unreadable file, a file without the model's head, or any key the model does not match.
LoadedClassifier load_classifier(const std::string& model_name, const std::string& weights,
                                 int64_t num_classes = 0, double width_mult = 0);

// The evaluation transform `whet train` used for the run that wrote `weights`
// (train/setup.h eval_transform_for), so predictions see images prepared as validation saw
// them. Its augment and image_size settings come from, first to last (later wins):
// the defaults (imagenet, the model's size); the run's config.toml beside the weights file, or
// else the weights' "config" metadata (checkpoints); the metadata keys "image_size" and
// "augment" (saved weights); the flags (image_size > 0, augment non-empty). `source` tells
// where the settings came from, for the log. `resize_side` (when not null) receives the
// shorter side the transform resizes images to first: what --fast-decode must keep.
data::TransformPtr run_eval_transform(const LoadedClassifier& lc, const std::string& model_name,
                                      const std::string& weights, int64_t image_size,
                                      const std::string& augment, std::string& source,
                                      int64_t* resize_side = nullptr);

// Class names from safetensors metadata "class_names": a JSON array of strings, or a
// comma-separated list (data/tensor_dataset.h's convention). Empty when absent (and for a
// .pth, whose metadata is empty).
std::vector<std::string> class_names_from_metadata(
    const std::map<std::string, std::string>& metadata);

// One name per non-empty line (trailing whitespace trimmed); throws when unreadable or empty.
std::vector<std::string> read_class_names_file(const std::string& path);

}  // namespace whet::cli
