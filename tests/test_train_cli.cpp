// `whet train` run as a user would (the WHET_CLI binary): a run, config files with flag
// overrides, resume, and bad input refused with a message before training starts.
#include <doctest/doctest.h>

#include "tests/cli_util.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/image_codec.h"
#include "io/weights.h"
#include "models/registry.h"
#include "tests/test_train_util.h"
#include "core/backend.h"
#include "train/checkpoint.h"
#include "train/setup.h"

using namespace train_test;
namespace fs = std::filesystem;

namespace {
using whet_test::Run;
Run run(const std::string& args) { return whet_test::run_whet(args); }

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// The flags of a tiny run on `data` (tiny_config's, as flags).
std::string tiny_flags(const std::string& data, const std::string& out_dir, int epochs = 1) {
  return "train --model small_cnn --data tensors:" + data +
         " --val-fraction 0.25 --image-size 12 --augment flip --batch-size 8 --workers 0"
         " --seed 3 --epochs " +
         std::to_string(epochs) + " --output-dir " + out_dir;
}

// Fails before training: non-zero status, the message, and no metrics written.
void check_refused(const std::string& args, const std::string& message, const std::string& dir) {
  INFO(args);
  Run r = run(args);
  INFO(r.out);
  CHECK(r.status != 0);
  CHECK(contains(r.out, message));
  CHECK_FALSE(fs::exists(dir + "/metrics.jsonl"));
}
}  // namespace

TEST_CASE("train: the CLI trains, prints plain progress lines off a terminal, writes the run") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string out = dir / "run";
  Run r = run(tiny_flags(data, out) + " --log-every 3 --save " + (dir / "w.safetensors"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(contains(r.out, "epoch 1/1  step 3/6  loss "));
  CHECK(contains(r.out, " img/s  ETA "));
  CHECK(contains(r.out, "epoch 1/1  train loss "));
  CHECK(contains(r.out, "done: 6 steps; validation accuracy "));
  CHECK_FALSE(contains(r.out, "\r"));  // no bar redraws in a pipe
  for (const char* f :
       {"config.toml", "metrics.jsonl", "last.safetensors", "eval.json", "report.html"})
    CHECK_MESSAGE(fs::exists(out + "/" + f), f);
  CHECK(fs::exists(dir / "w.safetensors"));
  Run quiet = run(tiny_flags(data, dir / "quiet") + " --quiet");
  CHECK(quiet.status == 0);
  CHECK(quiet.out.empty());
}

TEST_CASE("train: --config gives every key, flags override it, config.toml repeats the run") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string cfg = dir / "run.toml";
  write_text(cfg, "[model]\nmodel = 'small_cnn'\n[data]\ndata = 'tensors:" + data +
                      "'\nval_fraction = 0.25\nimage_size = 12\naugment = 'none'\nbatch_size = 8\n"
                      "workers = 0\n[optim]\nlr = 0.05\noptimizer = 'adam'\n[run]\nepochs = 1\n"
                      "quiet = true\n");
  Run r = run("train --config " + cfg + " --lr 0.02 --output-dir " + (dir / "a"));
  INFO(r.out);
  REQUIRE(r.status == 0);
  const std::string resolved = read_text(dir / "a/config.toml");
  CHECK(contains(resolved, "lr = 0.02\n"));
  CHECK(contains(resolved, "optimizer = 'adam'\n"));
  CHECK(contains(resolved, "num_classes = 4\n"));

  // The saved config.toml, run again elsewhere, trains the same weights.
  Run again = run("train --config " + (dir / "a/config.toml") + " --output-dir " + (dir / "b"));
  INFO(again.out);
  REQUIRE(again.status == 0);
  auto wa = whet::train::checkpoint_weights(dir / "a/last.safetensors");
  auto wb = whet::train::checkpoint_weights(dir / "b/last.safetensors");
  CHECK(bitwise_equal(wa, wb));
}

TEST_CASE("train: --stop-at-step then --resume ends in the same weights as one run") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string flags = " --scheduler step --step-size 1 --quiet";
  REQUIRE(
      run(tiny_flags(data, dir / "whole", 2) + flags + " --save " + (dir / "whole.st")).status ==
      0);
  Run first = run(tiny_flags(data, dir / "split", 2) + flags + " --stop-at-step 4 --save " +
                  (dir / "split.st"));
  REQUIRE(first.status == 0);
  CHECK_FALSE(fs::exists(dir / "split.st"));
  Run second = run("train --resume " + (dir / "split"));
  INFO(second.out);
  REQUIRE(second.status == 0);
  CHECK(read_text(dir / "whole.st") == read_text(dir / "split.st"));
  // The run's record repeats it rather than resuming or stopping it again.
  const std::string recorded = read_text(dir / "split/config.toml");
  CHECK(contains(recorded, "resume = ''\n"));
  CHECK(contains(recorded, "stop_at_step = 0\n"));
}

TEST_CASE("train: bad input is refused with a message before training starts") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string out = dir / "run";
  const std::string ok = tiny_flags(data, out);

  SUBCASE("flags and their values") {
    check_refused(ok + " --lrr 0.1", "--lrr", out);
    check_refused("train --data tensors:" + data, "no model: give --model", out);
    check_refused(ok + " --num-classes 5", "--num-classes 5 disagrees with the data: ", out);
    check_refused(ok + " --freeze 'nothing.*'", "--freeze 'nothing.*': matches no parameter", out);
    check_refused(ok + " --freeze-type LSTM", "--freeze-type LSTM: small_cnn has no module", out);
    check_refused(ok + " --device cuda", "--device cuda: ", out);
    check_refused(ok + " --precision tf32",
                  "--precision tf32 needs --device cuda; the CPU computes float32 exactly", out);
    check_refused(ok + " --optimizer lion", "--optimizer 'lion': expected one of", out);
    check_refused(ok + " --classes 1,9", "select_classes: class 9", out);
  }

  SUBCASE("an unknown key in the config file") {
    write_text(dir / "bad.toml", "[optim]\nlr = 0.1\nmomentun = 0.9\n");
    check_refused(ok + " --config " + (dir / "bad.toml"),
                  "bad.toml:3: unknown key 'momentun' in [optim]", out);
  }
  SUBCASE("an empty dataset") {
    const std::string empty = dir / "empty.safetensors";
    whet::io::save_safetensors(empty, {{"images", whet::Tensor::empty({0, 12, 12, 1})},
                                       {"labels", whet::Tensor::empty({0}, whet::DType::i64)}});
    check_refused(tiny_flags(empty, out), "no images", out);
  }
  SUBCASE("labels out of range of the class names") {
    const std::string bad = dir / "bad_labels.safetensors";
    whet::io::save_safetensors(
        bad,
        {{"images", whet::zeros({3, 12, 12, 1})},
         {"labels", whet::Tensor::from_vector(std::vector<int64_t>{0, 1, 5}, {3})}},
        {{"class_names", "a,b"}});
    check_refused(tiny_flags(bad, out), "label 5 but 2 class names", out);
  }
  SUBCASE("a class folder with no images") {
    const std::string root = dir / "images";
    whet::Tensor img = whet::zeros({12, 12, 1}, whet::DType::u8);
    for (const char* cls : {"cat", "dog"}) {
      for (int i = 0; i < 2; ++i)
        whet::data::write_png(
            dir / ("images/" + std::string(cls) + "/" + std::to_string(i) + ".png"), img);
    }
    fs::create_directories(root + "/empty_class");
    check_refused("train --model small_cnn --data folder:" + root + " --output-dir " + out,
                  "class folder " + root + "/empty_class has no readable JPEG or PNG image", out);
  }
  SUBCASE("weights of another architecture") {
    whet::models::ModelOptions o;
    o.num_classes = 4;
    o.init_weights = false;
    auto other = whet::models::create_model("mobilenet_v3_small", o);
    const std::string w = dir / "mnv3.safetensors";
    whet::io::save_weights(*other, w);
    check_refused(ok + " --weights " + w,
                  "--weights " + w +
                      " does not fit small_cnn (is it a checkpoint of another "
                      "architecture?)",
                  out);
  }
}

TEST_CASE("train: --device auto picks CUDA only when a device and every kernel are there") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string out = dir / "run";
  Run r = run(tiny_flags(data, out) + " --device auto --quiet");
  INFO(r.out);
  REQUIRE(r.status == 0);
  // config.toml records the device the run used, never "auto".
  const std::string want = whet::train::resolve_device("auto");
  CHECK((want == "cpu" || want == "cuda"));
  CHECK(want == (whet::cuda_device_count() > 0 && whet::train::ops_without_cuda_kernel().empty()
                     ? "cuda"
                     : "cpu"));
  CHECK(contains(read_text(out + "/config.toml"), "device = '" + want + "'"));
  CHECK(whet::train::resolve_device("cuda:1") == "cuda:1");  // anything else is kept
}

TEST_CASE("train: --fast-decode decodes JPEGs small enough for the transforms and is recorded") {
  whet::train::TrainConfig c;
  c.model = "resnet18";
  CHECK(whet::train::decode_min_side(c) == 792);  // 224 / sqrt(0.08), rounded up
  c.augment = "none";
  c.image_size = 64;
  CHECK(whet::train::decode_min_side(c) == 64);

  TempDir dir;
  const std::string root = dir / "photos";
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(root + "/" + cls);
    for (int i = 0; i < 4; ++i) {
      whet::Tensor img = whet::Tensor::empty({96, 128, 3}, whet::DType::u8);
      for (int64_t k = 0; k < img.numel(); ++k)
        img.data<uint8_t>()[k] = uint8_t((k * (cls[0] == 'a' ? 7 : 13) + i) % 251);
      whet::data::write_jpeg(root + "/" + cls + "/" + std::to_string(i) + ".jpg", img, 90);
    }
  }
  const std::string out = dir / "run";
  Run r = run("train --model small_cnn --data folder:" + root +
              " --augment none --image-size 24 --fast-decode --epochs 1 --batch-size 4 "
              "--workers 0 --output-dir " + out);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(whet_test::contains(read_text(out + "/config.toml"), "fast_decode = true\n"));
}
