// Fine-tuning a classifier of the zoo: the library behind `whet train`.
//
//   whet::train::TrainConfig c;                  // train/config.h: every key and its default
//   c.model = "resnet18";
//   c.weights = "resnet18.safetensors";          // torchvision weights; the head is replaced
//   c.data = "folder:flowers";
//   c.epochs = 5, c.lr = 0.01, c.head_lr_mult = 10, c.scheduler = "cosine";
//   c.freeze = {"layer1.*", "layer2.*"};
//   whet::train::TrainResult r = whet::train::run_training(c);
//
// or in two steps, to look at the setup (or refuse it) before any training:
//   whet::train::Trainer t(c);   // checks everything, opens the data, builds the model
//   t.model();                   // the Classifier being trained
//   auto r = t.run();
//
// What a run writes into c.output_dir:
//   config.toml        the resolved configuration (train/config.h's to_toml)
//   metrics.jsonl      step and epoch lines (train/metrics.h)
//   last.safetensors   the checkpoint of the latest step or epoch (train/checkpoint.h), every
//                      checkpoint_every steps and after each epoch
//   best.safetensors   the checkpoint of the epoch with the best validation accuracy
//   eval.json          the final model on the validation set (train/evaluate.h's to_json)
//   report.html        train/report.h, after each epoch and at the end
// and, with c.save, the final weights (PyTorch layout and names, metadata "class_names").
//
// Each epoch trains in train mode and validates in eval mode under NoGradGuard; with
// precision bf16 or fp16 both run forward and loss under an AutocastGuard, with float32
// parameters, optimizer state and checkpoints (train/setup.h, PrecisionPolicy). Resuming
// (c.resume = a run's directory; see resume_config) restores weights, optimizer, schedule,
// scaler, generator and the loader's position, so a run interrupted after N steps and resumed
// for M more ends with the same weights, bit for bit on the CPU (for a fixed OpenMP thread
// count, mixed precision included), as the uninterrupted N + M steps.
#pragma once
#include <atomic>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "train/config.h"
#include "train/lr_find.h"

namespace whet::train {

struct TrainResult {
  bool completed = false;  // false: stopped early (stop_at_step, request_stop) at a checkpoint
  int64_t global_step = 0, epochs_done = 0;
  double train_loss = 0, train_acc = 0;  // of the last epoch (NaN before the first)
  double val_loss = 0, val_acc = 0;      // of the last epoch (NaN without validation data)
  double best_val_acc = 0;               // NaN without validation data
  std::string output_dir;
};

class Trainer {
 public:
  // Resolves and checks the configuration, opens the data, builds the model, optimizer and
  // schedule and, when resuming, restores the checkpoint. Every problem the configuration or
  // the inputs can cause throws whet::Error here, before anything is written. Progress and
  // summaries go to `out` (nullptr: nowhere); `tty` redraws a progress bar in place.
  explicit Trainer(TrainConfig config, std::ostream* out = nullptr, bool tty = false);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the end (or to stop_at_step / a stop request) and writes the run's files.
  TrainResult run();
  // The learning-rate range test (train/lr_find.h) on this trainer's model and data, instead
  // of run(): writes no files and leaves the model trained by the test.
  LrFindResult find_lr(const LrFindOptions& o = {});

  // Asks run() to checkpoint after the current step and return (completed = false). Safe to
  // call from another thread or a signal handler.
  void request_stop() { stop_requested_.store(true); }

  const TrainConfig& config() const;  // resolved
  models::Classifier& model();
  const std::vector<std::string>& class_names() const;
  int64_t steps_per_epoch() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
  std::atomic<bool> stop_requested_{false};
};

TrainResult run_training(const TrainConfig& config, std::ostream* out = nullptr);

// The configuration of the run in `run_dir` (its last checkpoint's), set up to continue it:
// resume = output_dir = run_dir (checkpoints record no resume, stop_at_step or overwrite).
// Change what may change (epochs, stop_at_step, workers, logging) and pass it to Trainer.
TrainConfig resume_config(const std::string& run_dir);

}  // namespace whet::train
