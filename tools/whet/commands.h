// Subcommands of the whet CLI. Each add_*_command registers its flags and a callback that
// stores the action run_selected() performs after parsing.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace whet::cli {

// The action of the parsed subcommand; returns the process exit code.
using Action = std::function<int()>;
void set_action(Action a);
int run_selected(CLI::App& app);

void add_ops_command(CLI::App& app);  // whet ops [--json]
void add_models_command(CLI::App& app);   // whet models [--num-classes K] [--json]
void add_inspect_command(CLI::App& app);  // whet inspect --model NAME [--weights W] ...
void add_forward_command(CLI::App& app);  // whet forward --model NAME --weights W --input IN ...
void add_convert_command(CLI::App& app);  // whet convert IN.pth OUT.safetensors
void add_eval_command(CLI::App& app);     // whet eval --model NAME --weights W --data SPEC ...
void add_predict_command(CLI::App& app);  // whet predict --model NAME --weights W IMAGE...
void add_report_command(CLI::App& app);   // whet report DIR
void add_train_command(CLI::App& app);    // whet train --model NAME --data SPEC [--config F] ...
void add_lr_find_command(CLI::App& app);  // whet lr-find [whet train's flags] [--steps N] ...

}  // namespace whet::cli
