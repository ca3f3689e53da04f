#include "train/trainer_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "data/mix.h"
#include "data/subset.h"
#include "dist/data_parallel.h"
#include "io/weights.h"
#include "nn/loss.h"

namespace whet::train {

TrainConfig recorded(TrainConfig c) {
  c.resume.clear();
  c.stop_at_step = 0;
  c.overwrite = false;
  return c;
}

std::string json_list(const std::vector<std::string>& names) {
  return nlohmann::json(names).dump();
}

void Trainer::State::check_ranks_agree() const {
  std::string what = to_toml(recorded(cfg));
  for (int64_t v : {data.train->size(), data.val ? data.val->size() : -1, steps_per_epoch,
                    global_step, start.epoch, start.batch, int64_t(device.type)})
    what += "\n" + std::to_string(v);
  // std::hash is the same function in every copy of this binary (no per-process seed).
  const int64_t h = int64_t(std::hash<std::string>{}(what) >> 1);
  Tensor hi = full({1}, double(0), DType::i64), lo = full({1}, double(0), DType::i64);
  hi.data<int64_t>()[0] = h, lo.data<int64_t>()[0] = h;
  comm->all_reduce(hi, dist::ReduceOp::max);
  comm->all_reduce(lo, dist::ReduceOp::min);
  WHET_CHECK(hi.data<int64_t>()[0] == lo.data<int64_t>()[0],
             "data parallel: the ", comm->world_size(), " processes did not set up the same run "
             "(configuration, dataset sizes, steps per epoch, device kind or resumed position "
             "differ: each machine must see the same data, checkpoint and devices)");
}

std::unique_ptr<data::DataLoader> Trainer::State::eval_loader(const data::DatasetPtr& data) const {
  data::LoaderOptions o = train_loader->options();
  o.shuffle = false;
  o.drop_last = false;
  o.rank = 0, o.world_size = 1;
  return std::make_unique<data::DataLoader>(data::shard(data, comm->rank(), comm->world_size()),
                                            eval_transform_for(cfg), o);
}

// One optimizer step on a batch: forward and loss (+ L1, L2) under the precision's autocast,
// scaled backward, clipping, step (skipped by the scaler on an fp16 overflow), schedule. The
// logged loss is the criterion's alone, comparable with the validation loss.
//
// With micro-batches, the batch runs in pieces, each loss weighted by its share of the batch,
// so the accumulated gradient is the whole batch's mean gradient. Every piece starts from the
// generator's position at the batch and draws its own rows' dropout masks (BatchShardGuard):
// one process, several processes and micro-batches all draw the masks of the whole batch.
StepOutcome Trainer::State::train_step(const data::Batch& b) {
  opt->zero_grad();
  const int64_t n = b.labels.size(0), pieces = std::min(cfg.micro_batches, n);
  // Mixup / CutMix blend the batch (this rank's share) before it is split into pieces, so
  // micro-batches do not change which images are paired.
  Tensor images = b.images, other_labels;
  double lam = 1;
  const data::MixOptions mix{cfg.mixup, cfg.cutmix};
  if (mix.enabled()) {
    data::MixedBatch m = data::mix_batch(b.images, b.labels, mix, uint64_t(cfg.seed), global_step);
    images = m.images, other_labels = m.other_labels, lam = m.lam;
  }
  // Under data parallelism every rank holds an equal share: ours starts at row rank * n.
  const int64_t batch_first = comm->rank() * n, batch_rows = n * comm->world_size();
  Generator& g = default_generator();
  const uint64_t batch_counters = g.offset();
  Tensor loss_sum, correct;
  for (int64_t k = 0; k < pieces; ++k) {
    const int64_t lo = k * n / pieces, hi = (k + 1) * n / pieces;
    Tensor x = images.slice(lo, hi).to(device), y = b.labels.slice(lo, hi).to(device);
    Tensor y_other = other_labels.defined() ? other_labels.slice(lo, hi).to(device) : Tensor();
    const double weight = double(hi - lo) / double(n);
    g.set_offset(batch_counters);
    Tensor logits, loss, total;
    {
      AutocastGuard autocast(precision.dtype, precision.autocast);
      BatchShardGuard shard(batch_first + lo, hi - lo, batch_rows);
      logits = model->forward(x);
      loss = y_other.defined() ? criterion->mixed(logits, y, y_other, lam) : (*criterion)(logits, y);
      total = loss;
      if (cfg.l1 > 0) total = total + nn::l1_penalty(trainable) * cfg.l1;
      if (cfg.l2 > 0) total = total + nn::l2_penalty(trainable) * cfg.l2;
    }
    scaler->scale(pieces == 1 ? total : total * weight).backward();
    NoGradGuard no_grad;
    // Against the label that weighs more in a blended image.
    const Tensor& counted = y_other.defined() && lam < 0.5 ? y_other : y;
    Tensor piece_correct = sum(cast(eq(argmax(logits, 1), counted), DType::i64));
    Tensor piece_loss = pieces == 1 ? loss.detach() : loss.detach() * weight;
    loss_sum = k == 0 ? piece_loss : loss_sum + piece_loss;
    correct = k == 0 ? piece_correct : correct + piece_correct;
  }
  if (parallel()) dist::average_gradients(trainable, *comm);
  if (cfg.clip_grad > 0) {
    scaler->unscale_(*opt);
    optim::clip_grad_norm_(trainable, cfg.clip_grad);
  }
  scaler->step(*opt);
  scaler->update();
  schedule->after_step();
  // global_step counts the steps before this one. A step the fp16 scaler skipped still
  // averages: the weights did not move, as timm's EMA does.
  if (ema) ema->update(*model, global_step);
  StepOutcome o;
  o.loss = loss_sum;
  o.correct = correct;
  o.images = n;
  return o;
}

int64_t Trainer::State::validations_since_best() const {
  int64_t n = 0;
  for (int64_t e = best_epoch + 1; e <= epochs_done; ++e)
    n += e % cfg.val_every == 0 || e == cfg.epochs;
  return n;
}

double Trainer::State::lr() const {
  double m = 0;
  for (size_t g = 0; g < opt->num_groups(); ++g) m = std::max(m, opt->lr(g));
  return m;
}

Checkpoint Trainer::State::snapshot(data::LoaderPosition next, double seconds_in_epoch) const {
  Checkpoint ck;
  ck.add("model.", io::to_pytorch_layout(model->state_dict()));
  if (ema) ck.add("ema.", io::to_pytorch_layout(ema->model().state_dict()));
  ck.add("optim.", opt->state_dict());
  ck.add("sched.", schedule->state_dict());
  ck.add("scaler.", scaler->state_dict());
  ck.add("rng.default.", generator_state(default_generator()));
  ck.add_int("loader.epoch", next.epoch);
  ck.add_int("loader.batch", next.batch);
  ck.add_int("train.global_step", global_step);
  ck.add_int("train.epochs_done", epochs_done);
  ck.add_real("train.loss_sum", epoch_means.loss_sum);
  ck.add_int("train.correct", epoch_means.correct);
  ck.add_int("train.seen", epoch_means.seen);
  ck.add_real("train.epoch_seconds", seconds_in_epoch);
  ck.add_real("train.best_val_acc", best_val_acc);
  ck.add_int("train.best_epoch", best_epoch);
  ck.add_int("train.world_size", comm->world_size());
  ck.metadata = {{"config", to_toml(recorded(cfg))},
                 {"model", cfg.model},
                 {"class_names", json_list(class_names)},
                 {"global_step", std::to_string(global_step)},
                 {"epoch", std::to_string(epochs_done)}};
  return ck;
}

void Trainer::State::restore(const Checkpoint& ck) {
  model->load_state_dict(io::from_pytorch_layout(ck.part("model.")), /*strict=*/true);
  if (ema) ema->model().load_state_dict(io::from_pytorch_layout(ck.part("ema.")), /*strict=*/true);
  opt->load_state_dict(ck.part("optim."));
  schedule->load_state_dict(ck.part("sched."));
  scaler->load_state_dict(ck.part("scaler."));
  try {
    load_generator_state(default_generator(), ck.part("rng.default."));
  } catch (const Error& e) {
    WHET_FAIL(ck.source, ": ", e.what());  // its message names no file
  }
  start = {ck.get_int("loader.epoch"), ck.get_int("loader.batch")};
  WHET_CHECK(start.batch < steps_per_epoch, "checkpoint ", ck.source, ": loader position (", start.epoch, ", ",
             start.batch, ") is past an epoch of ", steps_per_epoch, " steps");
  global_step = ck.get_int("train.global_step");
  epochs_done = ck.get_int("train.epochs_done");
  epoch_means.loss_sum = ck.get_real("train.loss_sum");
  epoch_means.correct = ck.get_int("train.correct");
  epoch_means.seen = ck.get_int("train.seen");
  epoch_seconds = ck.get_real("train.epoch_seconds");
  best_val_acc = ck.get_real("train.best_val_acc");
  best_epoch = ck.get_int("train.best_epoch");
  // Absent from checkpoints older than data parallelism: those were one process.
  bool has_world = false;
  for (const auto& kv : ck.tensors) has_world = has_world || kv.first == "train.world_size";
  const int64_t saved_world = has_world ? ck.get_int("train.world_size") : 1;
  if (saved_world != comm->world_size())
    setup_log.push_back("warning: resuming on " + std::to_string(comm->world_size()) +
                        " process(es) a run written by " + std::to_string(saved_world) +
                        ": BatchNorm's batch statistics now come from shares of another size");
}

EvalResult Trainer::State::validate(data::DataLoader& loader, double& mean_loss) {
  // Rank 0's running statistics for all: each rank's follow its own shares of the batches.
  // Training never reads them (batch statistics), so this before evaluating, and rank 0
  // saving its own, is all DDP's broadcast before every forward gives.
  models::Classifier& net = evaluated();
  if (parallel()) dist::broadcast_buffers(net, *comm);
  net.eval();
  NoGradGuard no_grad;
  AutocastGuard autocast(precision.dtype, precision.autocast);
  EvalAccumulator acc(model->num_classes(), class_names);
  double loss_sum = 0;
  loader.seek({0, 0});
  data::Batch b;
  while (loader.next(b)) {
    Tensor labels = b.labels.to(device);
    Tensor logits = net.forward(b.images.to(device));
    acc.add(logits, labels);
    loss_sum += (*criterion)(logits, labels, /*training=*/false).item() * double(b.labels.size(0));
  }
  if (!ema) model->train();  // the average stays in eval mode
  if (parallel()) {  // each rank saw its share (eval_loader): add up, all hold the total
    acc.combine(*comm);
    Tensor l = Tensor::from_vector(std::vector<double>{loss_sum}, {1});
    comm->all_reduce(l);
    loss_sum = l.to_vector<double>()[0];
  }
  mean_loss = loss_sum / double(acc.num_samples());
  return acc.result();
}

}  // namespace whet::train
