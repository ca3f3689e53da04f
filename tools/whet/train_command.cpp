// `whet train`: fine-tune a model of the zoo (train/trainer.h). Every key of the
// configuration is a flag (train/config.h's table: `num_classes` <-> --num-classes, bool `k`
// <-> --k / --no-k); a TOML file gives them too (--config FILE), and flags override the file:
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
#include <type_traits>

#include "tools/whet/commands.h"
#include "train/trainer.h"

namespace whet::cli {

namespace {

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

using Copy = std::function<void(train::TrainConfig& dst, const train::TrainConfig& src)>;

struct TrainArgs {
  train::TrainConfig flags;  // the values the flags parsed into
  std::string config_file;
  std::vector<std::pair<CLI::Option*, Copy>> fields;  // each flag and how to apply it
};

std::atomic<train::Trainer*> g_trainer{nullptr};
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  if (train::Trainer* t = g_trainer.load()) t->request_stop();
  std::signal(sig, SIG_DFL);  // a second one ends the process at once
}

// The configuration: defaults, then (when resuming) the run's own, then the file, then flags.
train::TrainConfig build_config(const TrainArgs& a) {
  auto layer = [&](train::TrainConfig base) {
    if (!a.config_file.empty()) train::apply_toml_file(base, a.config_file);
    for (const auto& [opt, copy] : a.fields)
      if (opt->count() > 0) copy(base, a.flags);
    return base;
  };
  train::TrainConfig c = layer(train::TrainConfig{});
  if (!c.resume.empty()) c = layer(train::resume_config(c.resume));
  return c;
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

int run_train(const TrainArgs& a) {
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
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("--config", a->config_file,
                  "TOML file of keys (as a run's config.toml writes them); flags override it")
      ->check(CLI::ExistingFile);
  train::TrainConfig::for_each_field([&](const train::FieldInfo& f, auto member) {
    using T = std::decay_t<decltype(a->flags.*member)>;
    const std::string flag = train::flag_of(f.key);
    CLI::Option* opt;
    if constexpr (std::is_same_v<T, bool>) {
      opt = cmd->add_flag(flag + ",!--no-" + flag.substr(2), a->flags.*member, f.help);
    } else {
      opt = cmd->add_option(flag, a->flags.*member, f.help);
      // Lists: one value per occurrence (repeatable) or comma-separated.
      if constexpr (IsVector<T>::value)
        opt->delimiter(',')->allow_extra_args(false);
      else
        opt->capture_default_str();
    }
    // A later scalar flag wins (`whet train $BASE_FLAGS --lr 0.1`); lists accumulate.
    if constexpr (!IsVector<T>::value) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    opt->group(f.section);
    a->fields.emplace_back(opt, [member](train::TrainConfig& dst, const train::TrainConfig& src) {
      dst.*member = src.*member;
    });
  });
  cmd->callback([a] { set_action([a] { return run_train(*a); }); });
}

}  // namespace whet::cli
