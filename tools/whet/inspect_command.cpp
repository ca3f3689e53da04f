// `whet inspect`: a model's module tree with each module's output shape for an input size,
// parameter counts (total, trainable, frozen after --freeze) and forward FLOPs, optionally
// after loading weights. The shapes come from a real forward (models/summary.h).
#include <iostream>
#include <sstream>

#include "io/weights.h"
#include "models/registry.h"
#include "models/summary.h"
#include "models/timm_names.h"
#include "nn/freeze.h"
#include "tools/whet/commands.h"
#include "train/param_groups.h"

namespace whet::cli {

namespace {
struct InspectArgs {
  std::string model, weights, input_size;
  int64_t num_classes = 1000;
  double width_mult = 1.0;
  std::string width_rule;  // empty: the weights' (timm's for timm MobileNetV3), else torchvision
  std::vector<std::string> freeze;
};

// "H,W" or "H,W,C" -> {H, W, C}, C = 0 when absent.
Shape parse_input_size(const std::string& s) {
  Shape out;
  std::istringstream is(s);
  for (std::string part; std::getline(is, part, ',');) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    WHET_CHECK(used == part.size() && !part.empty() && v > 0, "--input-size '", s,
               "': expected H,W or H,W,C with positive integers");
    out.push_back(v);
  }
  WHET_CHECK(out.size() == 2 || out.size() == 3, "--input-size '", s, "': expected H,W or H,W,C");
  if (out.size() == 2) out.push_back(0);
  return out;
}

int inspect(const InspectArgs& a) {
  const models::ModelInfo* info = models::find_model(a.model);
  if (!info) models::create_model(a.model);  // throws, listing the known names
  models::ImportedWeights w;
  if (!a.weights.empty()) w = models::import_weights(a.model, io::read_state_dict(a.weights));
  models::ModelOptions o;
  o.num_classes = a.num_classes;
  o.width_mult = a.width_mult;
  o.width_rule =
      a.width_rule.empty() ? w.width_rule : models::parse_width_rule(a.width_rule, "--width-rule");
  o.bn_eps = w.bn_eps;
  o.bn_momentum = w.bn_momentum;
  o.init_weights = false;  // shapes, counts and FLOPs do not depend on the values
  models::ClassifierPtr m = models::create_model(a.model, o);
  // C = 0: whatever the stem reads (after loading weights).
  Shape hwc = a.input_size.empty() ? Shape{info->default_input[0], info->default_input[1], 0}
                                   : parse_input_size(a.input_size);
  std::cout << a.model << ": " << info->description << "\n";

  if (!a.weights.empty()) {
    nn::LoadResult r = io::load_pytorch_state_dict(*m, w.tensors, /*strict=*/false);
    const size_t entries = m->state_dict().size();
    std::cout << "weights: " << a.weights
              << (w.source.empty() ? "" : " (" + w.source + "'s names, translated)") << ": loaded "
              << entries - r.missing.size() - r.shape_mismatch.size() << " of " << entries
              << " entries\n"
              << r.str();
  }
  if (hwc[2] == 0) hwc[2] = m->in_channels();
  if (hwc[2] != m->in_channels()) {
    std::cout << "stem " << m->stem_prefix() << " adapted from " << m->in_channels() << " to "
              << hwc[2] << " input channels (adapt_input_channels)\n";
    models::adapt_input_channels(*m, hwc[2]);
  }
  for (const std::string& pattern : a.freeze) {
    int matched = 0;
    for (const auto& [name, p] : m->named_parameters()) matched += nn::glob_match(pattern, name);
    if (matched == 0)
      std::cerr << "whet: warning: --freeze '" << pattern << "' matched no parameter\n";
    nn::freeze_matching(*m, {pattern});
  }
  std::cout << "\n" << models::format_summary(models::summarize(*m, {1, hwc[0], hwc[1], hwc[2]}));
  // What `whet train --freeze-stages N` and --layer-decay count, from the stem up.
  std::cout << "\nstages (--freeze-stages N freezes the first N; --layer-decay):";
  const std::vector<std::string> stages = train::model_stages(*m);
  for (size_t s = 0; s < stages.size(); ++s)
    std::cout << (s ? ", " : " ") << train::stage_name(stages[s]);
  std::cout << "; head " << train::stage_name(m->head_prefix()) << "\n";
  return 0;
}
}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "inspect", "Print a model's modules with output shapes, parameter counts and FLOPs");
  auto a = std::make_shared<InspectArgs>();
  cmd->add_option("--model", a->model, "Model name (see `whet models`)")->required();
  cmd->add_option("--num-classes", a->num_classes, "Classes of the head (default 1000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--width-mult", a->width_mult, "MobileNets' width multiplier (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--width-rule", a->width_rule,
                  "How --width-mult scales MobileNetV3: torchvision or timm (default: timm for "
                  "timm's weights, else torchvision)")
      ->check(CLI::IsMember({"torchvision", "timm"}));
  cmd->add_option("--weights", a->weights,
                  "Weights to load (.safetensors or .pth; non-strict, mismatches reported)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--freeze", a->freeze,
                  "Freeze parameters whose dotted name matches this glob (repeatable)");
  cmd->add_option("--input-size", a->input_size,
                  "H,W[,C] of one input image (default: the model's, e.g. 224,224,3); a C "
                  "other than the stem's adapts it");
  cmd->callback([a] { set_action([a] { return inspect(*a); }); });
}

}  // namespace whet::cli
