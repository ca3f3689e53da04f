// `whet report DIR`: (re)generates DIR/report.html from a run's config.toml, metrics.jsonl and
// eval.json (train/report.h); any of them may be missing, the page says which. Works on a
// run that is still training, to look at it so far.
#include <iostream>

#include "tools/whet/commands.h"
#include "train/report.h"

namespace whet::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "Write DIR/report.html (curves, confusion matrix, configuration) for a run");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("dir", *dir, "The run's output directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->callback([dir] {
    set_action([dir] {
      train::write_report(*dir);
      std::cout << "wrote " << train::report_path(*dir) << "\n";
      return 0;
    });
  });
}

}  // namespace whet::cli
