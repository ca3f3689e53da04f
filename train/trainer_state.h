// The trainer's state (train/trainer.h's Trainer::State): what a run holds and the pieces of
// a step, apart from the loop that drives them (train/trainer.cpp). Internal to train/.
#pragma once
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "data/loader.h"
#include "dist/communicator.h"
#include "optim/optim.h"
#include "train/checkpoint.h"
#include "train/criterion.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/param_groups.h"
#include "train/schedule.h"
#include "train/setup.h"
#include "train/trainer.h"
#include "train/weight_ema.h"

namespace whet::train {

// The configuration as the run's files record it: without the keys that only steer one
// session (resume, stop_at_step, overwrite), so `--config config.toml` repeats the run
// instead of resuming or stopping it.
TrainConfig recorded(TrainConfig c);
// Class names as a JSON list, for checkpoint and weights metadata.
std::string json_list(const std::vector<std::string>& names);

// On the training device, read later (train/pending_sums.h).
struct StepOutcome {
  Tensor loss;     // 0-D: the batch's mean loss
  Tensor correct;  // 0-D int64
  int64_t images = 0;
};

struct Trainer::State {
  TrainConfig cfg;
  std::ostream* out = nullptr;
  bool tty = false;
  Device device;
  PrecisionPolicy precision;
  data::TrainVal data;
  std::vector<std::string> class_names;
  models::ClassifierPtr model;
  std::vector<ParamGroupSpec> groups;
  std::vector<Tensor> trainable;
  std::unique_ptr<optim::Optimizer> opt;
  std::unique_ptr<Schedule> schedule;
  std::unique_ptr<optim::GradScaler> scaler;
  std::unique_ptr<data::DataLoader> train_loader, val_loader;
  std::unique_ptr<Criterion> criterion;
  std::unique_ptr<WeightEma> ema;  // with --ema-decay
  // The model that validation, eval.json, best and --save use: the average with EMA.
  models::Classifier& evaluated() { return ema ? ema->model() : *model; }
  int64_t steps_per_epoch = 0, total_steps = 0;
  std::vector<std::string> setup_log;
  // Data parallelism (dist/): every rank trains on its share of each batch and averages the
  // gradients; rank 0 alone writes files and prints. A group of one otherwise.
  std::shared_ptr<dist::Communicator> comm;
  bool root = true;
  bool parallel() const { return comm->world_size() > 1; }

  // Where the run stands; what a checkpoint saves under train.* and loader.*.
  bool resumed = false;
  int64_t global_step = 0, epochs_done = 0;
  data::LoaderPosition start;  // the next batch to train on
  RunningMeans epoch_means;    // of the epoch in progress
  double epoch_seconds = 0;    // spent in the epoch in progress before this session
  double best_val_acc = kNoValue;
  int64_t best_epoch = 0;

  // Results of the last epoch.
  EpochRecord last_epoch;
  std::optional<EvalResult> last_eval;

  // The validations after the best one, counted from the epochs done (nothing to checkpoint).
  int64_t validations_since_best() const;

  void restore(const Checkpoint& ck);
  Checkpoint snapshot(data::LoaderPosition next, double seconds_in_epoch) const;
  double lr() const;  // the largest group lr (the head's, when it differs)
  StepOutcome train_step(const data::Batch& b);
  EvalResult validate(data::DataLoader& loader, double& mean_loss);
  // In order, through the evaluation transform; under data parallelism, this rank's share
  // (validate() adds the shares up).
  std::unique_ptr<data::DataLoader> eval_loader(const data::DatasetPtr& data) const;
  // Throws on every rank unless all ranks resolved the same run: configuration, data sizes,
  // steps and the position resumed from. Ranks that differed there would take different
  // numbers of steps and wait forever in a collective (folders listed differently on two
  // machines, a checkpoint on one machine's local disk, --device auto finding a GPU on one).
  void check_ranks_agree() const;
};

}  // namespace whet::train
