#include "train/model_settings.h"

#include <cstdlib>
#include <utility>

#include "core/error.h"

namespace whet::train {

void apply_model_settings(const TrainConfig& c, models::ModelOptions& o) {
  o.width_mult = c.width_mult;
  o.width_rule = c.width_rule.empty() ? models::WidthRule::torchvision
                                      : models::parse_width_rule(c.width_rule, "--width-rule");
  o.bn_eps = c.bn_eps;
  o.bn_momentum = c.bn_momentum;
}

void put_model_settings(const models::ModelOptions& o,
                        std::map<std::string, std::string>& metadata) {
  if (o.width_mult != 1.0) metadata["width_mult"] = shortest_decimal(o.width_mult);
  if (o.width_rule != models::WidthRule::torchvision)
    metadata["width_rule"] = models::width_rule_name(o.width_rule);
  if (o.bn_eps > 0) metadata["bn_eps"] = shortest_decimal(o.bn_eps);
  if (o.bn_momentum > 0) metadata["bn_momentum"] = shortest_decimal(o.bn_momentum);
}

void read_model_settings(const std::map<std::string, std::string>& metadata,
                         const std::string& file, models::ModelOptions& o) {
  for (auto [key, value] : {std::pair{"width_mult", &o.width_mult},
                            {"bn_eps", &o.bn_eps},
                            {"bn_momentum", &o.bn_momentum}}) {
    auto it = metadata.find(key);
    if (it == metadata.end()) continue;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    WHET_CHECK(end && *end == '\0' && v > 0, file, ": metadata ", key, " '", it->second,
               "' is not a positive number");
    *value = v;
  }
  if (auto it = metadata.find("width_rule"); it != metadata.end())
    o.width_rule = models::parse_width_rule(it->second, file + ": metadata width_rule");
}

}  // namespace whet::train
