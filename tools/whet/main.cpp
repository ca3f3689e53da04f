// The `whet` command line: one subcommand per task; each lives in its own file.
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/error.h"
#include "dist/communicator.h"
#include "tools/whet/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"whet: fine-tune pretrained convolutional networks on CPU or GPU"};
  app.set_version_flag("--version", std::string("whet ") + WHET_VERSION);
  app.require_subcommand(0, 1);
  whet::cli::add_ops_command(app);
  whet::cli::add_models_command(app);
  whet::cli::add_inspect_command(app);
  whet::cli::add_forward_command(app);
  whet::cli::add_convert_command(app);
  whet::cli::add_eval_command(app);
  whet::cli::add_predict_command(app);
  whet::cli::add_report_command(app);
  whet::cli::add_train_command(app);
  whet::cli::add_lr_find_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
    return 0;
  }
  try {
    return whet::cli::run_selected(app);
  } catch (const std::exception& e) {  // whet::Error, and what the standard library throws
    std::cerr << "whet: error" << whet::dist::rank_label() << ": " << e.what() << "\n";
    whet::dist::abort_peers(1);  // under mpirun: the other ranks must not wait for this one
    return 1;
  }
}
