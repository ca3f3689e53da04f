// The trainer end to end, in process: the files of a run, fine-tuning from weights with
// another head, evaluation mode, exact resume and a full disk.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/weights.h"
#include "models/registry.h"
#include "tests/test_train_util.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/setup.h"
#include "train/trainer.h"

using namespace train_test;
using whet::train::TrainConfig;
namespace fs = std::filesystem;

namespace {

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The epoch lines without their timing.
std::vector<nlohmann::json> epoch_lines(const std::string& dir) {
  std::vector<nlohmann::json> out;
  for (auto& j : read_jsonl(dir + "/metrics.jsonl")) {
    if (j["kind"] != "epoch") continue;
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

struct Final {
  whet::nn::NamedTensors model, optim, ema;  // ema: empty without --ema-decay
};

Final final_state(const std::string& dir) {
  whet::train::Checkpoint ck = whet::train::load_checkpoint(dir + "/last.safetensors");
  return {ck.part("model."), ck.part("optim."), ck.part("ema.")};
}

// Trains `c` to the end in one go, and again stopping at each of `stops` then resuming; all
// must end in the same weights and optimizer state, byte for byte.
void check_exact_resume(TrainConfig c, const std::vector<int64_t>& stops, const std::string& root) {
  TrainConfig whole = c;
  whole.output_dir = root + "/whole";
  whet::train::TrainResult a = whet::train::run_training(whole);
  REQUIRE(a.completed);
  const Final fa = final_state(whole.output_dir);

  for (int64_t stop : stops) {
    INFO("stop at step " << stop);
    TrainConfig first = c;
    first.output_dir = root + "/split" + std::to_string(stop);
    first.stop_at_step = stop;
    whet::train::TrainResult b1 = whet::train::run_training(first);
    CHECK_FALSE(b1.completed);
    CHECK(b1.global_step == stop);
    TrainConfig rest = whet::train::resume_config(first.output_dir);
    whet::train::TrainResult b2 = whet::train::run_training(rest);
    REQUIRE(b2.completed);
    CHECK(b2.global_step == a.global_step);

    const Final fb = final_state(first.output_dir);
    CHECK(bitwise_equal(fa.model, fb.model));
    CHECK(bitwise_equal(fa.optim, fb.optim));
    CHECK(bitwise_equal(fa.ema, fb.ema));
    CHECK(epoch_lines(whole.output_dir) == epoch_lines(first.output_dir));
    CHECK(b2.val_acc == a.val_acc);
  }
}

}  // namespace

TEST_CASE("train: --val-every validates every N epochs and after the last") {
  TempDir dir;
  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.epochs = 5;
  c.val_every = 2;
  whet::train::TrainResult r = whet::train::Trainer(c).run();
  CHECK(r.completed);
  std::vector<int> validated;
  for (const auto& j : read_jsonl(c.output_dir + "/metrics.jsonl")) {
    if (j["kind"] != "epoch") continue;
    CHECK(j["train_loss"].is_number());
    if (j["val_acc"].is_number()) validated.push_back(j["epoch"].get<int>());
  }
  CHECK(validated == std::vector<int>{2, 4, 5});
  std::ifstream ef(c.output_dir + "/eval.json");
  CHECK(whet::train::eval_result_from_json(nlohmann::json::parse(ef)).accuracy == r.val_acc);
}

TEST_CASE("train: a run writes its config, metrics, checkpoints, eval.json, report and weights") {
  TempDir dir;
  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.log_every = 1;
  c.save = dir / "out/final.safetensors";
  whet::train::Trainer t(c);
  CHECK(t.steps_per_epoch() == 6);
  CHECK(t.config().num_classes == 4);  // resolved from the data
  CHECK(t.config().in_channels == 1);
  whet::train::TrainResult r = t.run();
  CHECK(r.completed);
  CHECK(r.global_step == 12);
  CHECK(r.epochs_done == 2);

  const std::string run = c.output_dir;
  for (const char* f : {"config.toml", "metrics.jsonl", "last.safetensors", "best.safetensors",
                        "eval.json", "report.html"})
    CHECK_MESSAGE(fs::exists(run + "/" + f), f);
  TrainConfig back;
  whet::train::apply_toml_file(back, run + "/config.toml");
  CHECK(back.num_classes == 4);
  CHECK(back.lr == c.lr);

  auto lines = read_jsonl(run + "/metrics.jsonl");
  int steps = 0, epochs = 0;
  for (const auto& j : lines) {
    if (j["kind"] == "step") {
      ++steps;
      CHECK(j["global_step"].get<int>() == steps);
      for (const char* k : {"epoch", "step", "loss", "acc", "lr", "images_per_s"})
        CHECK_MESSAGE(j.contains(k), k);
    } else {
      ++epochs;
      for (const char* k :
           {"train_loss", "train_acc", "val_loss", "val_acc", "val_top5", "lr", "seconds"})
        CHECK_MESSAGE(j[k].is_number(), k);
    }
  }
  CHECK(steps == 12);
  CHECK(epochs == 2);

  std::ifstream ef(run + "/eval.json");
  auto eval = whet::train::eval_result_from_json(nlohmann::json::parse(ef));
  CHECK(eval.classes == std::vector<std::string>{"c0", "c1", "c2", "c3"});
  CHECK(eval.accuracy == r.val_acc);
  CHECK(eval.num_samples == 16);

  // --save: PyTorch layout, strict-loadable into a fresh model, with the class names.
  whet::models::ModelOptions o;
  o.num_classes = 4;
  auto fresh = whet::models::create_model("small_cnn", o);
  whet::io::load_weights(*fresh, c.save, /*strict=*/true);
  CHECK(bitwise_equal(fresh->state_dict(), t.model().state_dict()));
  CHECK(whet::io::load_safetensors(c.save).metadata.at("class_names") ==
        "[\"c0\",\"c1\",\"c2\",\"c3\"]");

  // The directory now holds a run: a new one there needs --overwrite.
  CHECK(contains(error_of([&] { whet::train::Trainer again(c); }), "already holds a run"));
  c.overwrite = true;
  CHECK(error_of([&] { whet::train::Trainer again(c); }).empty());
}

TEST_CASE("train: validation runs in eval mode under no-grad and leaves the model training") {
  TempDir dir;
  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.epochs = 1;
  whet::train::Trainer t(c);
  whet::train::TrainResult r = t.run();
  CHECK(t.model().is_training());
  // The same numbers from an independent evaluation in eval mode: batch statistics or
  // running-stat updates during validation would change them.
  auto data = whet::train::open_run_data(t.config());
  whet::data::LoaderOptions lo;
  lo.batch_size = 5;
  lo.num_workers = 0;
  lo.shuffle = false;
  whet::data::DataLoader val(data.val, whet::train::eval_transform_for(t.config()), lo);
  auto before = t.model().state_dict();
  std::vector<Tensor> copies;
  for (auto& [n, x] : before) copies.push_back(x.clone());
  whet::train::EvalResult e = whet::train::evaluate(t.model(), val, 4);
  CHECK(e.accuracy == r.val_acc);
  CHECK(e.loss == doctest::Approx(r.val_loss).epsilon(1e-5));
  for (size_t i = 0; i < before.size(); ++i)
    CHECK(bitwise_equal({before[i]}, {{before[i].first, copies[i]}}));
}

TEST_CASE("train: fine-tuning loads a backbone with another head and keeps frozen parts fixed") {
  TempDir dir;
  // "Pretrained" weights of a 10-class small_cnn.
  whet::models::ModelOptions o;
  o.num_classes = 10;
  whet::manual_seed(99);
  auto pre = whet::models::create_model("small_cnn", o);
  const std::string weights = dir / "pre.safetensors";
  whet::io::save_weights(*pre, weights);

  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.weights = weights;
  c.freeze = {"features.*"};
  c.freeze_bn = true;
  c.epochs = 1;
  whet::train::Trainer t(c);
  CHECK(t.model().num_classes() == 4);
  t.run();
  auto after = t.model().state_dict();
  auto before = pre->state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i].first.rfind("fc.", 0) == 0) continue;  // the new head
    INFO(after[i].first);
    CHECK(bitwise_equal({after[i]}, {before[i]}));  // frozen, BatchNorm statistics included
  }
}

TEST_CASE("train: N + M steps after a resume equal N + M steps without one, bit for bit") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  // Epochs cut to 3 steps: 2 epochs, 6 steps, the loader seeking into truncated epochs.
  SUBCASE("sgd, nesterov, cosine with warm-up, smoothing, L1, clipping, mixup and cutmix, 2 workers") {
    TrainConfig c = tiny_config(data, "");
    c.mixup = 0.4;
    c.cutmix = 1.0;
    c.max_steps_per_epoch = 3;
    c.nesterov = true;
    c.scheduler = "cosine";
    c.warmup_epochs = 0.5;
    c.label_smoothing = 0.1;
    c.l1 = 1e-4;
    c.clip_grad = 1.0;
    c.workers = 2;
    c.augment = "imagenet";
    check_exact_resume(c, {2, 3}, dir / "sgd");  // mid-epoch, and at the end of an epoch
  }
  SUBCASE("adamw, plateau on the EMA's loss, mse, layer decay, head lr, frozen BatchNorm, step checkpoints") {
    TrainConfig c = tiny_config(data, "");
    c.max_steps_per_epoch = 3;
    c.optimizer = "adamw";
    c.lr = 1e-3;
    c.scheduler = "plateau";
    c.patience = 0;
    c.warmup_epochs = 0.5;
    c.loss = "mse";
    c.layer_decay = 0.8;
    c.head_lr_mult = 10;
    c.freeze_bn = true;
    c.checkpoint_every = 2;
    c.ema_decay = 0.9;
    check_exact_resume(c, {5}, dir / "adamw");
  }
}

TEST_CASE("train: bf16 and fp16 runs resume bit for bit on the CPU") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  SUBCASE("bf16 autocast, adamw") {
    TrainConfig c = tiny_config(data, "");
    c.max_steps_per_epoch = 3;
    c.precision = "bf16";
    c.optimizer = "adamw";
    c.lr = 1e-3;
    check_exact_resume(c, {2, 4}, dir / "bf16");
  }
  SUBCASE("fp16 autocast, loss scaling and clipping, batches in 3 micro-batches") {
    TrainConfig c = tiny_config(data, "");
    c.max_steps_per_epoch = 3;
    c.precision = "fp16";
    c.micro_batches = 3;
    c.clip_grad = 1.0;
    check_exact_resume(c, {4}, dir / "fp16");
  }
}

TEST_CASE("train: a resumed run refuses a changed configuration") {
  TempDir dir;
  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.stop_at_step = 2;
  whet::train::run_training(c);
  TrainConfig r = whet::train::resume_config(c.output_dir);
  CHECK(r.stop_at_step == 0);
  r.lr = 0.5;
  CHECK(contains(error_of([&] { whet::train::Trainer t(r); }),
                 "--resume: --lr differs from the run in"));
  r = whet::train::resume_config(c.output_dir);
  r.epochs = 3;  // may change: the constant schedule does not depend on it
  whet::train::TrainResult res = whet::train::run_training(r);
  CHECK(res.global_step == 18);
}

TEST_CASE("train: a full disk while checkpointing leaves the last good checkpoint in place") {
  TempDir dir;
  TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.stop_at_step = 3;
  whet::train::run_training(c);
  const std::string last = c.output_dir + "/last.safetensors";
  REQUIRE(whet::train::load_checkpoint(last).get_int("train.global_step") == 3);
  const auto size = fs::file_size(last);

  TrainConfig rest = whet::train::resume_config(c.output_dir);
  whet::train::Trainer t(rest);
  // Room for the small files (config.toml, metrics.jsonl), not for a checkpoint.
  struct rlimit old;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  struct rlimit small = old;
  small.rlim_cur = 64 * 1024;
  REQUIRE(size > small.rlim_cur);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string e = error_of([&] { t.run(); });
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  CHECK(contains(e, "checkpoint not written"));
  CHECK(contains(e, last + " is intact"));
  CHECK(whet::train::load_checkpoint(last).get_int("train.global_step") == 3);
  for (const auto& entry : fs::directory_iterator(c.output_dir))
    CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos,
                  entry.path().string());
  // And the run continues from it once there is room.
  whet::train::TrainResult r = whet::train::run_training(whet::train::resume_config(c.output_dir));
  CHECK(r.completed);
}
