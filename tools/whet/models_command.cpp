// `whet models`: the model zoo with each model's parameter count, for 1000 classes or
// --num-classes K, counted by building the model (so the numbers cannot drift from the code).
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "models/summary.h"
#include "tools/whet/commands.h"

namespace whet::cli {

namespace {
int list_models(int64_t num_classes, bool json) {
  nlohmann::json list = nlohmann::json::array();
  for (const models::ModelInfo& info : models::model_registry()) {
    models::ModelOptions o;
    o.num_classes = num_classes;
    o.init_weights = false;  // only counted
    models::ClassifierPtr m = models::create_model(info.name, o);
    int64_t params = 0;
    for (const Tensor& p : m->parameters()) params += p.numel();
    list.push_back({{"name", info.name},
                    {"params", params},
                    {"num_classes", num_classes},
                    {"default_input", info.default_input},
                    {"head", m->head_prefix()},
                    {"description", info.description}});
  }
  if (json) {
    std::cout << list.dump(1) << "\n";
    return 0;
  }
  std::cout << std::left << std::setw(20) << "model" << std::right << std::setw(13) << "params"
            << "  " << std::left << std::setw(15) << "input (HWC)" << std::setw(15) << "head"
            << "description\n";
  for (const auto& m : list) {
    auto in = m["default_input"].get<std::vector<int64_t>>();
    std::string input =
        std::to_string(in[0]) + "x" + std::to_string(in[1]) + "x" + std::to_string(in[2]);
    std::cout << std::left << std::setw(20) << m["name"].get<std::string>() << std::right
              << std::setw(13) << models::with_commas(m["params"].get<int64_t>()) << "  "
              << std::left << std::setw(15) << input << std::setw(15)
              << m["head"].get<std::string>() << m["description"].get<std::string>() << "\n";
  }
  std::cout << "\nparameter counts for " << num_classes
            << " classes; any input size works (inputs are NHWC)\n"
            << "weights: torchvision's checkpoints for every model; timm's resnet18/34/50/101, "
               "mobilenetv2_050/100/140, mobilenetv3_small_050/075/100 and "
               "mobilenetv3_large_075/100 too (names translated; --width-mult for the widths)\n";
  return 0;
}
}  // namespace

void add_models_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "List the model zoo with parameter counts");
  auto num_classes = std::make_shared<int64_t>(1000);
  cmd->add_option("--num-classes", *num_classes, "Classes of the head (default 1000)")
      ->check(CLI::PositiveNumber);
  auto* json = cmd->add_flag("--json", "Print a JSON list");
  cmd->callback([num_classes, json] {
    set_action([num_classes, json] { return list_models(*num_classes, json->count() > 0); });
  });
}

}  // namespace whet::cli
