#include "tools/whet/commands.h"

namespace whet::cli {

namespace {
Action g_action;
}

void set_action(Action a) { g_action = std::move(a); }
int run_selected(CLI::App&) { return g_action ? g_action() : 0; }

}  // namespace whet::cli
