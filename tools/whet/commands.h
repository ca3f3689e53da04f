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

}  // namespace whet::cli
