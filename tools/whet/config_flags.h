// The training configuration as command-line flags, shared by `whet train` and
// `whet lr-find`: every key of train/config.h's table is a flag (`num_classes` <->
// --num-classes, bool `k` <-> --k / --no-k), --config FILE gives them from TOML, and flags
// override the file; with --resume, the run's own configuration comes first.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "train/config.h"

namespace whet::cli {

struct ConfigFlags {
  train::TrainConfig flags;  // the values the flags parsed into
  std::string config_file;
  using Copy = std::function<void(train::TrainConfig& dst, const train::TrainConfig& src)>;
  std::vector<std::pair<CLI::Option*, Copy>> fields;  // each flag and how to apply it
};

// Registers --config and one flag per configuration key on `cmd`, parsing into `a`.
void add_config_flags(CLI::App& cmd, ConfigFlags& a);

// The configuration: defaults, then (when resuming) the run's own, then the file, then flags.
train::TrainConfig build_config(const ConfigFlags& a);

}  // namespace whet::cli
