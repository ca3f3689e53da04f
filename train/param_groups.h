// Optimizer parameter groups for fine-tuning: the classifier head may learn at its own rate
// (--head-lr, --head-lr-mult) and the backbone with layer-wise lr decay (--layer-decay, as
// BEiT / timm's param_groups_layer_decay): the k-th stage below the head learns at
// lr * layer_decay^k, so the stem, whose features are the most general, moves least.
//
// The stages are the model's top-level pieces, found from its module tree, so every model of
// the zoo gets them without a table:
//   - the top-level children that hold parameters, the head's parameters left out;
//   - when only one such child remains (MobileNet's `features`, small_cnn's), its children;
//   - leading leaf modules (ResNet's conv1 and bn1) form one stage, "stem".
//   resnet18: stem, layer1, layer2, layer3, layer4 | head fc.
//   mobilenet_v2: features.0 ... features.18 | head classifier.1.
// Only trainable parameters enter a group; empty groups are left out.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "optim/optimizer.h"
#include "train/config.h"

namespace whet::train {

struct ParamGroupSpec {
  std::string name;         // "head", "layer4", "backbone", "all", ...
  nn::NamedTensors params;  // trainable parameters, in model order
  double lr = 0;
  double weight_decay = 0;
};

// The stage prefixes of the backbone, from the stem up, each with a trailing dot
// ("layer1."); "stem" stands for several leaf modules and is listed as the paths it covers
// joined by '|' ("conv1.|bn1.").
std::vector<std::string> model_stages(const models::Classifier& m);
// A stage's name in messages and group names: "stem" for the joined leaf modules, else the
// prefix without its dot ("layer1", "features.3").
std::string stage_name(const std::string& stage);

// The groups for the configuration, from the stem up to the head: one group "all" when every
// trainable parameter gets the same lr; "backbone" and "head" when only the head differs;
// the stages and "head" with layer decay. When --bias-norm-weight-decay differs from
// --weight-decay, each group's 1-D parameters (biases, BatchNorm weights) move to a group of
// their own, named "<group>/bias-norm", right after it. Throws whet::Error when nothing is
// trainable.
std::vector<ParamGroupSpec> make_param_groups(const models::Classifier& m, const TrainConfig& c);

// The configured optimizer (c.optimizer, momentum, nesterov, weight_decay) over the groups.
std::unique_ptr<optim::Optimizer> make_optimizer(const std::vector<ParamGroupSpec>& groups,
                                                 const TrainConfig& c);

}  // namespace whet::train
