// What a model's weights do not say about it: the settings beyond its name and tensor shapes
// that rebuild the same network (MobileNets' width multiplier and width rule, BatchNorm eps
// and momentum). They travel three ways, kept in step here:
//   TrainConfig keys (config.toml) -> models::ModelOptions   (model_options)
//   models::ModelOptions -> safetensors metadata of --save / whet convert   (put_model_settings)
//   that metadata -> models::ModelOptions for whet eval / predict   (read_model_settings)
#pragma once
#include <map>
#include <string>

#include "models/classifier.h"
#include "train/config.h"

namespace whet::train {

// The width and BatchNorm settings of c (num_classes, in_channels and the rest are the
// caller's).
void apply_model_settings(const TrainConfig& c, models::ModelOptions& o);

// o's settings into metadata, each only where it departs from the model's own: width_mult
// (not 1), width_rule (timm), bn_eps and bn_momentum (set).
void put_model_settings(const models::ModelOptions& o,
                        std::map<std::string, std::string>& metadata);

// The settings `metadata` records, over o's; a malformed value throws whet::Error naming
// `file` and the key.
void read_model_settings(const std::map<std::string, std::string>& metadata,
                         const std::string& file, models::ModelOptions& o);

}  // namespace whet::train
