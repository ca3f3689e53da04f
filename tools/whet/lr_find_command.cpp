// `whet lr-find`: the learning-rate range test (train/lr_find.h) on the run that the same
// flags as `whet train` describe (model, weights, freezing, data, optimizer, precision);
// prints the loss against the lr and a suggestion, and writes nothing unless --json asks:
//   whet lr-find --model resnet18 --weights r18.pth --data folder:flowers --freeze 'layer1.*'
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "dist/communicator.h"
#include "tools/whet/commands.h"
#include "tools/whet/config_flags.h"
#include "train/trainer.h"

namespace whet::cli {

namespace {

struct LrFindArgs {
  ConfigFlags config;
  train::LrFindOptions options;
  std::string json;
};

int run_lr_find(const LrFindArgs& a) {
  train::TrainConfig c = build_config(a.config);
  c.quiet = true;
  train::Trainer trainer(c);
  const train::LrFindResult r = trainer.find_lr(a.options);
  if (dist::world()->rank() != 0) return 0;

  std::printf("%-12s %-10s %s\n", "lr", "loss", "smoothed loss");
  // About 25 lines whatever the number of steps, and the last step always.
  // Bars from the lowest smoothed loss (none) to the highest before it (40); the run-away
  // losses after the minimum are clipped (">"), or they would flatten the rest.
  const size_t n = r.lrs.size(), every = std::max<size_t>(1, n / 25);
  const auto lowest = std::min_element(r.smoothed.begin(), r.smoothed.end());
  const double bottom = *lowest, top = *std::max_element(r.smoothed.begin(), lowest + 1);
  for (size_t i = 0; i < n; ++i) {
    if (i % every != 0 && i + 1 != n) continue;
    const double x = top > bottom ? 40 * (r.smoothed[i] - bottom) / (top - bottom) : 0;
    const std::string bar = x > 40 ? std::string(40, '#') + ">" : std::string(size_t(std::lround(x)), '#');
    std::printf("%-12.4g %-10.4g %-10.4g %s\n", r.lrs[i], r.losses[i], r.smoothed[i], bar.c_str());
  }
  if (r.diverged) std::printf("stopped after %zu steps: the loss ran away\n", n);
  std::printf("suggested lr: %.3g (steepest fall of the loss); minimum at %.3g, so %.3g by "
              "min / 10\n", r.steepest_lr, r.min_lr, r.min_lr / 10);
  if (!a.json.empty()) {
    nlohmann::json j = {{"lr", r.lrs},          {"loss", r.losses},
                        {"smoothed", r.smoothed}, {"diverged", r.diverged},
                        {"suggested_lr", r.steepest_lr}, {"min_lr", r.min_lr}};
    std::ofstream out(a.json);
    WHET_CHECK(out << j.dump(1) << "\n", "--json ", a.json, ": cannot write");
  }
  return 0;
}

}  // namespace

void add_lr_find_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "lr-find",
      "Learning-rate range test: train a few steps with the lr rising geometrically and show "
      "the loss against it, with a suggested lr; takes every `whet train` flag; writes nothing");
  auto a = std::make_shared<LrFindArgs>();
  add_config_flags(*cmd, a->config);
  cmd->add_option("--start-lr", a->options.start_lr, "First lr")->capture_default_str()->group("lr-find");
  cmd->add_option("--end-lr", a->options.end_lr, "Last lr")->capture_default_str()->group("lr-find");
  cmd->add_option("--steps", a->options.steps, "Steps of the test (the lr rises geometrically)")
      ->capture_default_str()->group("lr-find");
  cmd->add_option("--diverge", a->options.diverge,
                  "Stop once the smoothed loss is this many times its lowest")
      ->capture_default_str()->group("lr-find");
  cmd->add_option("--json", a->json, "Also write the curve and the suggestion as JSON")->group("lr-find");
  cmd->callback([a] { set_action([a] { return run_lr_find(*a); }); });
}

}  // namespace whet::cli
