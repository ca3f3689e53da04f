#include "train/param_groups.h"

#include <cmath>

#include "core/error.h"
#include "optim/optim.h"

namespace whet::train {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool has_params_outside(const nn::Module& m, const std::string& path, const std::string& head) {
  for (const auto& [name, p] : m.named_parameters())
    if (!starts_with(path + name, head)) return true;
  return false;
}

// Which stage (index into `stages`) a parameter name belongs to; stages hold '|'-joined
// prefixes. Parameters outside every stage (none in the zoo) join the first.
size_t stage_of(const std::vector<std::string>& stages, const std::string& name) {
  for (size_t s = 0; s < stages.size(); ++s) {
    size_t start = 0;
    for (;;) {
      size_t bar = stages[s].find('|', start);
      if (starts_with(name, stages[s].substr(start, bar - start))) return s;
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
  }
  return 0;
}

template <class Options>
std::vector<optim::ParamGroup<Options>> typed_groups(const std::vector<ParamGroupSpec>& groups,
                                                     Options base) {
  std::vector<optim::ParamGroup<Options>> out;
  for (const ParamGroupSpec& g : groups) {
    Options o = base;
    o.lr = g.lr;
    o.weight_decay = g.weight_decay;
    out.emplace_back(g.params, o);
  }
  return out;
}

}  // namespace

std::vector<std::string> model_stages(const models::Classifier& m) {
  const std::string head = m.head_prefix();
  // (path prefix, is a leaf module) of the candidate units.
  std::vector<std::pair<std::string, bool>> units;
  for (const auto& [name, child] : m.named_children()) {
    if (has_params_outside(*child, name + ".", head))
      units.emplace_back(name + ".", child->named_children().empty());
  }
  if (units.size() == 1 && !units[0].second) {
    const std::string parent = units[0].first;
    const nn::Module* container = nullptr;
    for (const auto& [name, child] : m.named_children())
      if (name + "." == parent) container = child.get();
    units.clear();
    for (const auto& [name, child] : container->named_children()) {
      if (has_params_outside(*child, parent + name + ".", head))
        units.emplace_back(parent + name + ".", child->named_children().empty());
    }
  }
  std::vector<std::string> stages;
  size_t first = 0;
  std::string stem;
  while (first < units.size() && units[first].second) {
    stem += (stem.empty() ? "" : "|") + units[first].first;
    ++first;
  }
  // A stem of a single leaf is simply that stage.
  if (!stem.empty()) stages.push_back(stem);
  for (size_t i = first; i < units.size(); ++i) stages.push_back(units[i].first);
  return stages;
}

std::string stage_name(const std::string& stage) {
  if (stage.find('|') != std::string::npos) return "stem";
  return !stage.empty() && stage.back() == '.' ? stage.substr(0, stage.size() - 1) : stage;
}

namespace {

// The groups by learning rate (make_param_groups without the weight decay split).
std::vector<ParamGroupSpec> lr_groups(const models::Classifier& m, const TrainConfig& c) {
  const std::string head = m.head_prefix();
  const double head_lr = c.head_lr > 0 ? c.head_lr : c.lr * c.head_lr_mult;
  nn::NamedTensors trainable = m.named_trainable_parameters();
  WHET_CHECK(!trainable.empty(), "nothing to train: every parameter of ", c.model,
             " is frozen (check --freeze, --freeze-type and --unfreeze)");

  std::vector<ParamGroupSpec> groups;
  if (c.layer_decay == 1.0) {
    ParamGroupSpec backbone{"backbone", {}, c.lr}, head_group{"head", {}, head_lr};
    for (const auto& np : trainable)
      (starts_with(np.first, head) ? head_group : backbone).params.push_back(np);
    if (head_lr == c.lr) {
      ParamGroupSpec all{"all", trainable, c.lr};
      return {all};
    }
    for (ParamGroupSpec* g : {&backbone, &head_group})
      if (!g->params.empty()) groups.push_back(std::move(*g));
    return groups;
  }

  const std::vector<std::string> stages = model_stages(m);
  const size_t n = stages.size();
  for (size_t s = 0; s < n; ++s) {
    // The stage right below the head is k = 1: lr * decay^(n - s).
    groups.push_back({stage_name(stages[s]), {}, c.lr * std::pow(c.layer_decay, double(n - s))});
  }
  ParamGroupSpec head_group{"head", {}, head_lr};
  for (const auto& np : trainable) {
    if (starts_with(np.first, head))
      head_group.params.push_back(np);
    else if (n > 0)
      groups[stage_of(stages, np.first)].params.push_back(np);
  }
  groups.push_back(std::move(head_group));
  std::vector<ParamGroupSpec> out;
  for (auto& g : groups)
    if (!g.params.empty()) out.push_back(std::move(g));
  return out;
}

}  // namespace

std::vector<ParamGroupSpec> make_param_groups(const models::Classifier& m, const TrainConfig& c) {
  std::vector<ParamGroupSpec> out;
  for (ParamGroupSpec& g : lr_groups(m, c)) {
    g.weight_decay = c.weight_decay;
    if (c.bias_norm_weight_decay == c.weight_decay) {
      out.push_back(std::move(g));
      continue;
    }
    ParamGroupSpec matrices{g.name, {}, g.lr, c.weight_decay};
    ParamGroupSpec vectors{g.name + "/bias-norm", {}, g.lr, c.bias_norm_weight_decay};
    for (auto& np : g.params) (np.second.dim() <= 1 ? vectors : matrices).params.push_back(np);
    for (ParamGroupSpec* part : {&matrices, &vectors})
      if (!part->params.empty()) out.push_back(std::move(*part));
  }
  return out;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::vector<ParamGroupSpec>& groups,
                                                 const TrainConfig& c) {
  if (c.optimizer == "sgd") {
    optim::SGDOptions o;
    o.momentum = c.momentum;
    o.nesterov = c.nesterov;
    o.weight_decay = c.weight_decay;
    return std::make_unique<optim::SGD>(typed_groups(groups, o));
  }
  if (c.optimizer == "adam") {
    optim::AdamOptions o;
    o.weight_decay = c.weight_decay;
    return std::make_unique<optim::Adam>(typed_groups(groups, o));
  }
  if (c.optimizer == "adamw") {
    optim::AdamWOptions o;
    o.weight_decay = c.weight_decay;
    return std::make_unique<optim::AdamW>(typed_groups(groups, o));
  }
  WHET_CHECK(c.optimizer == "rmsprop", "unknown optimizer '", c.optimizer, "'");
  optim::RMSpropOptions o;
  o.momentum = c.momentum;
  o.weight_decay = c.weight_decay;
  return std::make_unique<optim::RMSprop>(typed_groups(groups, o));
}

}  // namespace whet::train
