// Training checkpoints: one safetensors file holding everything a run needs to continue
// exactly where it was, under prefixed names:
//   model.*    the model's state dict in PyTorch's layout and names (io/weights.h), so
//              {k[6:]: v for k, v in f.items() if k.startswith("model.")} loads in torchvision
//   ema.*      with --ema-decay, the weight average's state dict, in the same layout
//   optim.*    the optimizer's state dict (optim/optimizer.h)
//   sched.*    the schedule's (train/schedule.h)
//   scaler.*   the loss scaler's (empty while disabled)
//   rng.*      whet::default_generator's seed and offset (dropout draws from it)
//   loader.*   the training loader's position: the next (epoch, batch)
//   train.*    the trainer's counters: global_step, epochs_done, best_val_acc, and the
//              running sums of the current epoch
// and metadata: format "whet-checkpoint", version, model, config (the run's TOML), classes
// (JSON list), global_step, epoch.
//
// save_checkpoint is atomic (io::save_safetensors: temporary file, fsync, rename, directory
// fsync): a crash or a full disk at any moment leaves the previous checkpoint intact.
#pragma once
#include <map>
#include <string>

#include "core/rng.h"
#include "nn/module.h"
#include "train/config.h"

namespace whet::train {

constexpr const char* kCheckpointFormat = "whet-checkpoint";

struct Checkpoint {
  nn::NamedTensors tensors;
  std::map<std::string, std::string> metadata;
  std::string source;  // the file it was loaded from, for errors; empty when built in memory

  void add(const std::string& prefix, const nn::NamedTensors& part);
  void add_int(const std::string& name, int64_t v);  // 0-D int64
  void add_real(const std::string& name, double v);  // 0-D float64
  // The entries under `prefix`, with the prefix removed.
  nn::NamedTensors part(const std::string& prefix) const;
  // A one-element entry's value; throws naming the file and the key when it is absent, holds
  // more elements, or is not of an integer (get_int) or floating (get_real) dtype.
  int64_t get_int(const std::string& name) const;
  double get_real(const std::string& name) const;
};

// Throws whet::Error naming the path, and saying the previous checkpoint is intact, when the
// file cannot be written (no space, no permission).
void save_checkpoint(const std::string& path, const Checkpoint& c);
// Throws whet::Error when the file is not a whet checkpoint.
Checkpoint load_checkpoint(const std::string& path);

std::string last_checkpoint_path(const std::string& run_dir);  // run_dir/last.safetensors
std::string best_checkpoint_path(const std::string& run_dir);  // run_dir/best.safetensors

// The configuration stored in a checkpoint (applied onto the defaults).
TrainConfig checkpoint_config(const Checkpoint& c, const std::string& source);

// The model weights of a checkpoint in PyTorch's layout and names ("model." removed; "ema.",
// the weight average, where the run kept one): what `whet eval` / `whet predict` load with
// Module::load_state_dict after io::from_pytorch_layout. A plain weights file (safetensors, or
// a PyTorch .pth/.pt) is returned as it is.
nn::NamedTensors checkpoint_weights(const std::string& path);

// A generator's state as two int64 tensors (the uint64 bits), and back.
nn::NamedTensors generator_state(const Generator& g);
void load_generator_state(Generator& g, const nn::NamedTensors& sd);

}  // namespace whet::train
