// `whet train`: fine-tune a model of the zoo (train/trainer.h). Every key of the
// configuration is a flag (tools/whet/config_flags.h); a TOML file gives them too
// (--config FILE), and flags override the file:
//   whet train --model resnet18 --weights resnet18.pth --data folder:flowers --epochs 5
//              --lr 0.01 --head-lr-mult 10 --freeze 'layer1.*' --scheduler cosine
//   whet train --config runs/a/config.toml --lr 0.02 --output-dir runs/b
//   whet train --resume runs/a --epochs 20         # continue a run, here for longer
// Ctrl-C checkpoints after the current step and exits with 130; --resume continues.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "tools/whet/commands.h"
#include "tools/whet/config_flags.h"
#include "train/trainer.h"

namespace whet::cli {

namespace {

std::atomic<train::Trainer*> g_trainer{nullptr};
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  if (train::Trainer* t = g_trainer.load()) t->request_stop();
  std::signal(sig, SIG_DFL);  // a second one ends the process at once
}

// While alive, SIGINT and SIGTERM ask `t` to checkpoint and stop.
class StopOnSignal {
 public:
  explicit StopOnSignal(train::Trainer& t) {
    g_trainer.store(&t);
    old_int_ = std::signal(SIGINT, on_signal);
    old_term_ = std::signal(SIGTERM, on_signal);
  }
  ~StopOnSignal() {
    g_trainer.store(nullptr);
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

int run_train(const ConfigFlags& a) {
  train::TrainConfig c = build_config(a);
  // A full disk or a file-size limit then fails the write (and the run, with the previous
  // checkpoint intact) instead of killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  train::Trainer trainer(c, &std::cout, isatty(fileno(stdout)) != 0);
  train::TrainResult r;
  {
    StopOnSignal guard(trainer);
    r = trainer.run();
  }
  const int sig = g_signal.load();
  return r.completed || sig == 0 ? 0 : 128 + sig;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train",
      "Fine-tune a model on a dataset; every flag is also a key of --config FILE. Under "
      "`mpirun -n N`, N processes train as one (data parallel: --batch-size is shared "
      "among them)");
  auto a = std::make_shared<ConfigFlags>();
  add_config_flags(*cmd, *a);
  cmd->callback([a] { set_action([a] { return run_train(*a); }); });
}

}  // namespace whet::cli
