#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <thread>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/math_mode.h"
#include "core/pinned.h"
#include "core/threads.h"
#include "data/loader.h"
#include "data/subset.h"
#include "dist/data_parallel.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/summary.h"
#include "nn/loss.h"
#include "optim/optim.h"
#include "train/checkpoint.h"
#include "train/criterion.h"
#include "train/evaluate.h"
#include "train/metrics.h"
#include "train/model_settings.h"
#include "train/param_groups.h"
#include "train/pending_sums.h"
#include "train/progress.h"
#include "train/report.h"
#include "train/schedule.h"
#include "train/setup.h"
#include "train/trainer_state.h"

namespace whet::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// CPU threads for each rank of a data-parallel run on this machine: the launcher's binding
// when it bound this process to fewer CPUs than the machine has, else an equal share.
int threads_per_rank() {
  const int machine = int(std::thread::hardware_concurrency());
  const int mine = usable_cpus();
  if (mine > 0 && mine < machine) return mine;
  return std::max(1, machine / dist::local_ranks());
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  io::AtomicFileWriter w(path, "write");
  w.write(text.data(), text.size());
  w.commit();
}

// Keys a resumed run may change: they do not alter the steps it takes.
// The device may change too (a GPU run continued on another GPU, or on the CPU): the
// checkpoint is device-free; only bit-exactness needs the same device.
bool may_change_on_resume(const std::string& key) {
  for (const char* k : {"epochs", "stop_at_step", "output_dir", "overwrite", "save",
                        "checkpoint_every", "resume", "log_every", "quiet", "workers", "device"})
    if (key == k) return true;
  return false;
}

// Refuses a resumed configuration whose training would differ from the checkpoint's.
void check_resume_compatible(const TrainConfig& saved, const TrainConfig& now,
                             const std::string& source) {
  TrainConfig::for_each_field([&](const FieldInfo& f, auto member) {
    if (may_change_on_resume(f.key) || saved.*member == now.*member) return;
    WHET_FAIL("--resume: ", flag_of(f.key), " differs from the run in ", source,
              "; a resumed run keeps its configuration (only --epochs, --stop-at-step, "
              "--workers, --device, --checkpoint-every, --log-every, --output-dir, --save, --quiet "
              "may change)");
  });
  WHET_CHECK(
      now.epochs == saved.epochs || (now.scheduler != "cosine" && now.scheduler != "onecycle"),
      "--resume: --epochs cannot change with --scheduler ", now.scheduler,
      " (its length is fixed by the run's epochs)");
}

}  // namespace

Trainer::Trainer(TrainConfig config, std::ostream* out, bool tty) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.comm = dist::world();
  s.root = s.comm->rank() == 0;
  s.out = s.root ? out : nullptr;  // one rank speaks for the run
  s.tty = tty;
  TrainConfig& c = s.cfg;
  c = std::move(config);
  resolve(c);
  c.device = resolve_device(c.device);  // config.toml records the device the run used
  check_runnable(c);
  s.device = Device::parse(c.device);
  if (s.parallel() && s.device.is_cuda() && c.device.find(':') == std::string::npos) {
    // `--device cuda` under mpirun: one GPU per rank on each machine (config.toml keeps
    // "cuda", so a resumed run maps its ranks afresh).
    s.device = Device::cuda(dist::local_rank() % cuda_device_count());
  }
  // GPU ranks reduce their gradients with NCCL where whet has it.
  s.comm = dist::device_group(s.comm, s.device);
  s.precision = precision_policy(c.precision);
  set_allow_tf32(s.precision.tf32);  // process-wide: each run sets it for itself

  std::optional<Checkpoint> ck;
  if (!c.resume.empty()) {
    ck = load_checkpoint(last_checkpoint_path(c.resume));
    s.resumed = true;
  }
  const bool continuing_here =
      s.resumed && fs::exists(c.output_dir) && fs::equivalent(c.output_dir, c.resume);
  WHET_CHECK(continuing_here || c.overwrite || !fs::exists(last_checkpoint_path(c.output_dir)),
             "--output-dir ", c.output_dir,
             " already holds a run (last.safetensors): continue it "
             "with --resume ",
             c.output_dir, ", or pass --overwrite, or choose another directory");

  manual_seed(uint64_t(c.seed));
  s.data = open_run_data(c);
  s.class_names = s.data.train->class_names();
  const int64_t num_classes = int64_t(s.class_names.size());
  // The values that depended on the data and the model, fixed for config.toml.
  c.num_classes = num_classes;
  c.image_size = model_image_size(c);
  c.in_channels = model_channels(c);
  if (ck) {
    const std::string path = last_checkpoint_path(c.resume);
    check_resume_compatible(checkpoint_config(*ck, path), c, path);
  }
  std::optional<models::ImportedWeights> pretrained;
  if (!s.resumed && !c.weights.empty()) pretrained = read_pretrained(c);  // may set c.bn_*
  if (!s.resumed && c.weights.empty()) s.setup_log.push_back("weights: none (random initialisation)");
  s.model = build_model(c, num_classes, pretrained ? &*pretrained : nullptr, s.setup_log);
  pretrained.reset();  // the model holds its own copy
  s.model->to(s.device);
  s.trainable = s.model->trainable_parameters();
  if (s.parallel()) {
    // Ranks on one machine share its cores; each would otherwise run a thread per core.
    if (!std::getenv("OMP_NUM_THREADS")) set_cpu_threads(threads_per_rank());
    // After every rank has checked the output directory, before rank 0 writes to it.
    dist::broadcast_module(*s.model, *s.comm);
    s.setup_log.push_back("data parallel: " + std::to_string(s.comm->world_size()) +
                          " processes (" + s.comm->backend() + "), " +
                          std::to_string(c.batch_size / s.comm->world_size()) +
                          " images per process per step, " + std::to_string(cpu_threads()) +
                          " CPU thread(s) per process");
  }

  if (s.parallel()) {
    const int64_t w = s.comm->world_size();
    WHET_CHECK(c.batch_size % w == 0, "--batch-size ", c.batch_size, " cannot be shared "
               "equally by ", w, " processes: use a multiple of ", w, " (the batch size is the "
               "whole batch, divided among the processes)");
    WHET_CHECK(s.data.train->size() >= c.batch_size, "the training set (",
               s.data.train->size(), " images) holds no full --batch-size ", c.batch_size,
               " to share among ", w, " processes: lower --batch-size");
    WHET_CHECK(c.batch_size / w >= c.micro_batches, "--micro-batches ", c.micro_batches,
               " is more than the ", c.batch_size / w, " images each of ", w,
               " processes holds per step: lower it or raise --batch-size");
  }
  data::LoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.shuffle = c.shuffle;
  // A last batch of one image would give BatchNorm a single value per channel; timm drops
  // the ragged last batch in training for the same reason.
  lo.drop_last = s.data.train->size() > c.batch_size || s.parallel();
  lo.num_workers = int(c.workers);
  lo.seed = uint64_t(c.seed);
  lo.rank = s.comm->rank();
  lo.world_size = s.comm->world_size();
  // Batches bound for a GPU are loaded into pinned memory, whose upload does not wait.
  if (s.device.is_cuda()) lo.allocator = [](const Shape& sh, DType t) { return empty_pinned(sh, t); };
  s.train_loader = std::make_unique<data::DataLoader>(s.data.train, train_transform_for(c), lo);
  if (s.data.val) s.val_loader = s.eval_loader(s.data.val);
  WHET_CHECK(c.early_stop == 0 || s.val_loader, "--early-stop ", c.early_stop,
             " watches the validation accuracy, and this run has no validation data: give "
             "--val-fraction, or a folder with its own val/ split");
  s.steps_per_epoch = s.train_loader->batches_per_epoch();
  if (c.max_steps_per_epoch > 0)
    s.steps_per_epoch = std::min(s.steps_per_epoch, c.max_steps_per_epoch);
  s.total_steps = s.steps_per_epoch * c.epochs;

  s.groups = make_param_groups(*s.model, c);
  s.opt = make_optimizer(s.groups, c);
  s.schedule = std::make_unique<Schedule>(*s.opt, c, s.steps_per_epoch, s.total_steps);
  optim::GradScalerOptions so;
  so.enabled = s.precision.loss_scaling;
  s.scaler = std::make_unique<optim::GradScaler>(so);
  Tensor class_weight;
  if (!c.class_weights.empty()) {
    class_weight = class_weights_for(c.class_weights, *s.data.train, num_classes);
    std::string line = "class weights:";
    const std::vector<float> w = class_weight.to_vector<float>();
    for (size_t k = 0; k < w.size() && k < 16; ++k) {
      char v[64];
      const std::string name = k < s.class_names.size() ? s.class_names[k] : std::to_string(k);
      std::snprintf(v, sizeof v, "%s %.40s %.4g", k ? "," : "", name.c_str(), w[k]);
      line += v;
    }
    s.setup_log.push_back(line + (w.size() > 16 ? ", ..." : ""));
    class_weight = class_weight.to(s.device);
  }
  s.criterion = std::make_unique<Criterion>(c.loss, num_classes, c.label_smoothing, class_weight);
  if (c.ema_decay > 0) {
    // The average's own initialisation is overwritten at once; it must not move the run's
    // random stream, or a run with EMA would train on other dropout masks than one without.
    const Generator saved = default_generator();
    std::vector<std::string> unused;
    models::ClassifierPtr twin = build_model(c, num_classes, /*weights=*/nullptr, unused);
    default_generator() = saved;
    twin->to(s.device);
    s.ema = std::make_unique<WeightEma>(std::move(twin), *s.model, c.ema_decay);
    char line[160];
    std::snprintf(line, sizeof line, "weight EMA: decay %.6g (warm-up (1+t)/(10+t)); validation, "
                  "best, eval.json and --save use the average", c.ema_decay);
    s.setup_log.push_back(line);
  }

  if (ck) {
    s.restore(*ck);
    WHET_CHECK(c.stop_at_step == 0 || c.stop_at_step > s.global_step, "--stop-at-step ",
               c.stop_at_step, ": the run is already at step ", s.global_step);
  }
  if (s.parallel()) s.check_ranks_agree();
}

Trainer::~Trainer() = default;

const TrainConfig& Trainer::config() const { return s_->cfg; }
models::Classifier& Trainer::model() { return *s_->model; }
const std::vector<std::string>& Trainer::class_names() const { return s_->class_names; }
int64_t Trainer::steps_per_epoch() const { return s_->steps_per_epoch; }

TrainResult Trainer::run() {
  State& s = *s_;
  const TrainConfig& c = s.cfg;
  std::ostream null_stream(nullptr);
  Progress progress(s.out ? *s.out : null_stream, s.tty, c.quiet || !s.out, c.log_every);

  const bool root = s.root;
  if (root) fs::create_directories(c.output_dir);
  if (root && !s.resumed) {
    for (const char* stale : {"best.safetensors", "eval.json", "report.html"})
      fs::remove(fs::path(c.output_dir) / stale);
  }
  const std::string dir = c.output_dir;
  std::optional<MetricsLog> metrics;
  if (root) {
    write_text_atomic((fs::path(dir) / "config.toml").string(), to_toml(recorded(c)));
    metrics.emplace((fs::path(dir) / "metrics.jsonl").string(), s.resumed, s.global_step,
                    s.epochs_done);
  }
  const std::string last_path = last_checkpoint_path(dir), best_path = best_checkpoint_path(dir);

  progress.message("train: " + s.data.train->describe() +
                   "\nval:   " + (s.data.val ? s.data.val->describe() : std::string("none")));
  int64_t params = 0, trainable = 0;
  for (const Tensor& p : s.model->parameters()) params += p.numel();
  for (const Tensor& p : s.trainable) trainable += p.numel();
  progress.message("model: " + c.model + ", " + std::to_string(s.class_names.size()) +
                   " classes, " + models::with_commas(params) + " parameters, " +
                   models::with_commas(trainable) + " trainable");
  for (const std::string& line : s.setup_log) progress.message(line);
  if (s.precision.autocast)
    progress.message("precision: " + c.precision + " autocast, float32 master weights" +
                     (s.precision.loss_scaling ? ", dynamic loss scaling" : ""));
  else if (s.precision.tf32)
    progress.message("precision: float32 with TF32 matrix math");
  for (const ParamGroupSpec& g : s.groups) {
    char lr[64];
    std::snprintf(lr, sizeof lr, "%.4g, weight decay %.4g", g.lr, g.weight_decay);
    progress.message("  group " + g.name + ": " + std::to_string(g.params.size()) +
                     " tensors, lr " + lr);
  }
  const std::string pieces =
      c.micro_batches > 1 ? " (in " + std::to_string(c.micro_batches) + " micro-batches)" : "";
  progress.message(std::to_string(c.epochs) + " epochs x " + std::to_string(s.steps_per_epoch) +
                   " steps of " + std::to_string(c.batch_size) + " images" + pieces + ", " +
                   s.opt->name() +
                   ", " + c.scheduler + " schedule" +
                   (s.resumed ? "; resuming at step " + std::to_string(s.global_step) : "") +
                   "; output in " + dir);

  // Throughput and time left come from the steps' own time: validation and checkpoints
  // would make them jump.
  double step_seconds = 0, last_val_seconds = 0, epoch_lr = s.lr();
  int64_t session_steps = 0;
  TrainResult result;
  result.output_dir = dir;
  auto finish = [&](bool completed) {
    result.completed = completed;
    result.global_step = s.global_step;
    result.epochs_done = s.epochs_done;
    result.train_loss = s.last_epoch.train_loss;
    result.train_acc = s.last_epoch.train_acc;
    result.val_loss = s.last_epoch.val_loss;
    result.val_acc = s.last_epoch.val_acc;
    result.best_val_acc = s.best_val_acc;
    return result;
  };
  // A collective decision under data parallelism: a signal reaches the ranks at different
  // steps, and a rank that stopped alone would leave the others waiting for it.
  auto should_stop = [&] {
    bool stop = stop_requested_.load() || (c.stop_at_step > 0 && s.global_step >= c.stop_at_step);
    if (!s.parallel()) return stop;
    Tensor flag = full({}, stop ? 1.0 : 0.0, DType::i64);
    s.comm->all_reduce(flag, dist::ReduceOp::max);
    return flag.item() != 0;
  };

  for (int64_t epoch = s.start.epoch; epoch < c.epochs; ++epoch) {
    // Checked here rather than after validation alone, so a resumed run that had stopped
    // early stays stopped.
    if (c.early_stop > 0 && s.validations_since_best() >= c.early_stop) {
      progress.message("early stop: " + std::to_string(s.validations_since_best()) +
                       " validations without a better accuracy than epoch " +
                       std::to_string(s.best_epoch) + "'s; best.safetensors holds it");
      break;
    }
    const int64_t first = epoch == s.start.epoch ? s.start.batch : 0;
    if (first == 0) {
      s.epoch_means = {};
      s.epoch_seconds = 0;
    }
    const Clock::time_point epoch_start = Clock::now();
    s.model->train();
    s.train_loader->seek({epoch, first});
    RunningMeans window;
    PendingSums pending;
    double window_seconds = 0;

    for (int64_t step = first; step < s.steps_per_epoch; ++step) {
      const Clock::time_point step_start = Clock::now();
      data::Batch b;
      WHET_CHECK(s.train_loader->next(b), "train loader ended early at batch ", step);
      const double lr = s.lr();
      epoch_lr = lr;
      const StepOutcome o = s.train_step(b);
      ++s.global_step;
      pending.add(o.loss, o.correct, o.images, s.global_step);
      const bool last = step + 1 == s.steps_per_epoch;
      const bool log_line = s.global_step % c.log_every == 0 || last;
      const bool stop = !last && should_stop();
      const bool save = !last && (stop || (c.checkpoint_every > 0 &&
                                           s.global_step % c.checkpoint_every == 0));
      if (!s.device.is_cuda() || log_line || last || save) {
        const RunningMeans read = pending.take(*s.comm);  // waits for the device (and ranks)
        s.epoch_means.add(read);
        window.add(read);
      }
      const double dt = seconds_since(step_start);
      step_seconds += dt;
      window_seconds += dt;
      ++session_steps;

      if (log_line) {
        if (metrics) metrics->step({epoch + 1, step + 1, s.global_step, window.loss(), window.acc(), lr,
                      window_seconds > 0 ? double(window.seen) / window_seconds : kNoValue});
        window = {};
        window_seconds = 0;
      }
      const double per_step = step_seconds / double(session_steps);
      ProgressStep ps;
      ps.epoch = epoch + 1, ps.epochs = c.epochs, ps.step = step + 1, ps.steps = s.steps_per_epoch;
      ps.global_step = s.global_step;
      ps.loss = s.epoch_means.loss(), ps.acc = s.epoch_means.acc(), ps.lr = lr;
      ps.images_per_s = per_step > 0 ? double(c.batch_size) / per_step : 0;
      // The steps left, and the validations left (this epoch's included) as long as the last.
      ps.eta_s = per_step * double(s.total_steps - s.global_step) +
                 last_val_seconds * double(c.epochs - epoch);
      progress.step(ps);

      if (last) break;
      if (save && root)
        save_checkpoint(last_path, s.snapshot(s.train_loader->position(),
                                              s.epoch_seconds + seconds_since(epoch_start)));
      if (stop) {
        // No rank leaves before rank 0 has written the checkpoint: a rank that exits with a
        // signal's status makes the MPI launcher end the whole job.
        if (s.parallel()) s.comm->barrier();
        progress.message("stopped at step " + std::to_string(s.global_step) +
                         "; continue with "
                         "`whet train --resume " +
                         dir + "`");
        return finish(false);
      }
    }

    if (s.parallel()) {  // once an epoch: the ranks must still hold one model
      nn::NamedTensors state = s.model->named_parameters();
      for (auto& kv : s.opt->state_dict()) state.push_back(kv);
      dist::check_in_step(state, *s.comm, "parameters and optimizer state");
    }
    // The epoch's validation, in eval mode without autograd.
    EpochRecord rec;
    rec.epoch = epoch + 1;
    rec.train_loss = s.epoch_means.loss();
    rec.train_acc = s.epoch_means.acc();
    // The lr the epoch's last step used: what one-cycle sets after the final step is past
    // its schedule.
    rec.lr = epoch_lr;
    // Validation every val_every epochs and always after the last, whose pass eval.json reuses.
    const bool validating =
        s.val_loader && ((epoch + 1) % c.val_every == 0 || epoch + 1 == c.epochs);
    if (validating) {
      const Clock::time_point val_start = Clock::now();
      s.last_eval = s.validate(*s.val_loader, rec.val_loss);
      rec.val_acc = s.last_eval->accuracy;
      rec.val_top5 = s.last_eval->top5;
      last_val_seconds = seconds_since(val_start);
    }
    if (validating)
      s.schedule->after_epoch(rec.val_loss);
    else if (!s.val_loader)
      s.schedule->after_epoch(rec.train_loss);
    const double seconds = s.epoch_seconds + seconds_since(epoch_start);
    rec.seconds = seconds;
    s.epochs_done = epoch + 1;
    const bool improved = validating && !(rec.val_acc <= s.best_val_acc);  // NaN: first
    if (improved) {
      s.best_val_acc = rec.val_acc;
      s.best_epoch = epoch + 1;
    }
    s.last_epoch = rec;
    if (root) {
      Checkpoint ck = s.snapshot({epoch + 1, 0}, 0.0);
      save_checkpoint(last_path, ck);
      if (improved) save_checkpoint(best_path, ck);
      metrics->epoch(rec);
    }

    char line[256];
    std::snprintf(line, sizeof line, "epoch %lld/%lld  train loss %.4f acc %.4f",
                  (long long)(epoch + 1), (long long)c.epochs, rec.train_loss, rec.train_acc);
    std::string summary = line;
    if (validating) {
      std::snprintf(line, sizeof line, "  val loss %.4f acc %.4f top5 %.4f%s", rec.val_loss,
                    rec.val_acc, rec.val_top5, improved ? " (best)" : "");
      summary += line;
    }
    std::snprintf(line, sizeof line, "  lr %.3g  %s", rec.lr, format_duration(seconds).c_str());
    progress.message(summary + line);
    try {
      if (root) write_report(dir);
    } catch (const Error& e) {
      progress.message(std::string("warning: report.html not written: ") + e.what());
    }
    // Evaluated first on every rank: should_stop() is a collective.
    const bool stop_now = should_stop();
    if (stop_now && epoch + 1 < c.epochs) {
      if (s.parallel()) s.comm->barrier();  // rank 0's checkpoint is written
      progress.message("stopped after epoch " + std::to_string(epoch + 1) +
                       "; continue with `whet train --resume " + dir + "`");
      return finish(false);
    }
  }

  // The final model on the validation set (the last epoch's pass), else on the training set
  // through the evaluation transform.
  std::string split = "validation";
  if (!s.last_eval) {
    if (s.val_loader) {
      double unused = 0;
      s.last_eval = s.validate(*s.val_loader, unused);
    } else {
      std::unique_ptr<data::DataLoader> train_eval = s.eval_loader(s.data.train);
      double unused = 0;
      s.last_eval = s.validate(*train_eval, unused);
      split = "training";
    }
  }
  nlohmann::json ej = to_json(*s.last_eval);
  ej["split"] = split;
  if (root) write_text_atomic((fs::path(dir) / "eval.json").string(), ej.dump() + "\n");
  if (root && !c.save.empty()) {
    if (fs::path(c.save).has_parent_path()) fs::create_directories(fs::path(c.save).parent_path());
    std::map<std::string, std::string> metadata = {
        {"format", "pt"},
        {"model", c.model},
        {"class_names", json_list(s.class_names)},
        {"image_size", std::to_string(model_image_size(c))}};
    // What the names and shapes do not say, for `whet eval` to build the same model.
    models::ModelOptions settings;
    apply_model_settings(c, settings);
    put_model_settings(settings, metadata);
    io::save_safetensors(c.save, io::to_pytorch_layout(s.evaluated().state_dict()), metadata);
    progress.message("weights: " + c.save);
  }
  try {
    if (root) write_report(dir);
  } catch (const Error& e) {
    progress.message(std::string("warning: report.html not written: ") + e.what());
  }
  char done[160];
  std::snprintf(done, sizeof done, "done: %lld steps; %s accuracy %.4f", (long long)s.global_step,
                split.c_str(), s.last_eval->accuracy);
  progress.message(std::string(done) + "; " + report_path(dir));
  return finish(true);
}

TrainResult run_training(const TrainConfig& config, std::ostream* out) {
  Trainer t(config, out);
  return t.run();
}

TrainConfig resume_config(const std::string& run_dir) {
  const std::string path = last_checkpoint_path(run_dir);
  TrainConfig c = checkpoint_config(load_checkpoint(path), path);
  c.resume = run_dir;
  c.output_dir = run_dir;
  return c;
}

}  // namespace whet::train
