// Evaluation (train/evaluate.h) on data whose answers are known exactly, and the `whet eval` /
// `whet predict` commands on a small_cnn checkpoint and a folder of PNGs.
#include <doctest/doctest.h>

#include "tests/cli_util.h"
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/autograd.h"
#include "data/loader.h"
#include "data/open.h"
#include "data_test_util.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/registry.h"
#include "train/config.h"
#include "train/evaluate.h"
#include "train/setup.h"

using namespace whet;
using namespace whet::train;
using data_test::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// A Linear classifier over flattened (N, 1, 1, D) images.
class FlatLinear : public nn::Module {
 public:
  FlatLinear(int64_t in, int64_t out) : nn::Module("FlatLinear") {
    fc = register_module("fc", std::make_shared<nn::Linear>(in, out));
  }
  Tensor forward(const Tensor& x) override { return fc->forward(x.flatten(1)); }
  std::shared_ptr<nn::Linear> fc;
};

// Three classes; an image is a one-hot feature e_j (D = 3) and the model's logit c is 1 when
// c = kPredictedOf[j], else 0: features 0, 1, 2 are predicted as classes 0, 1, 1.
constexpr int64_t kPredictedOf[3] = {0, 1, 1};
// (label, feature) per sample: class 0 -> predicted 0, 0, 0, 1; class 1 -> 1, 1;
// class 2 -> 0, 1, 1.
const std::vector<std::pair<int64_t, int64_t>> kSamples = {{0, 0}, {0, 0}, {0, 2}, {2, 0}, {1, 1},
                                                           {0, 0}, {2, 2}, {1, 1}, {2, 1}};

struct KnownCase {
  std::shared_ptr<FlatLinear> model;
  data::DatasetPtr data;
};

KnownCase known_case() {
  KnownCase k;
  k.model = std::make_shared<FlatLinear>(3, 3);
  std::vector<float> w(9, 0.0f);
  for (int64_t j = 0; j < 3; ++j) w[size_t(kPredictedOf[j] * 3 + j)] = 1.0f;  // w[c][j]
  {
    NoGradGuard g;
    k.model->fc->weight.copy_(Tensor::from_vector(w, {3, 3}));
    k.model->fc->bias.zero_();
  }
  std::vector<float> images;
  std::vector<int64_t> labels;
  for (auto [label, feature] : kSamples) {
    for (int64_t j = 0; j < 3; ++j) images.push_back(j == feature ? 1.0f : 0.0f);
    labels.push_back(label);
  }
  const int64_t n = int64_t(kSamples.size());
  k.data = std::make_shared<data::TensorDataset>(Tensor::from_vector(images, {n, 1, 1, 3}),
                                                 Tensor::from_vector(labels, {n}),
                                                 std::vector<std::string>{"ant", "bee", "cat"});
  return k;
}

using whet_test::Run;
Run run_cli(const std::string& args, bool stdout_only = false) {
  return whet_test::run_whet(args, stdout_only);
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);)
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));
  return out;
}
}  // namespace

TEST_CASE("eval: a hand-built linear model gives the known confusion matrix and metrics") {
  KnownCase k = known_case();
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    data::LoaderOptions o;
    o.batch_size = 4;         // three batches, the last one short
    o.shuffle = workers > 0;  // the metrics do not depend on the order
    o.num_workers = workers;
    data::DataLoader loader(k.data, nullptr, o);
    k.model->train();
    EvalResult r = evaluate(*k.model, loader, 3, k.data->class_names());
    CHECK(!k.model->is_training());
    CHECK(r.num_samples == 9);
    CHECK(r.classes == std::vector<std::string>{"ant", "bee", "cat"});
    CHECK(r.confusion == std::vector<std::vector<int64_t>>{{3, 1, 0}, {0, 2, 0}, {1, 2, 0}});
    CHECK(r.accuracy == doctest::Approx(5.0 / 9));
    CHECK(r.top5 == 1.0);  // k = min(5, 3): every label is within the top 3
    // Per sample: logsumexp of one 1 and two 0s, minus the label's logit (1 when right).
    const double lse = std::log(std::exp(1.0) + 2);
    CHECK(r.loss == doctest::Approx((5 * (lse - 1) + 4 * lse) / 9).epsilon(1e-12));
    REQUIRE(r.per_class.size() == 3);
    CHECK(r.per_class[0].precision == doctest::Approx(3.0 / 4));
    CHECK(r.per_class[0].recall == doctest::Approx(3.0 / 4));
    CHECK(r.per_class[0].support == 4);
    CHECK(r.per_class[1].precision == doctest::Approx(2.0 / 5));
    CHECK(r.per_class[1].recall == 1.0);
    CHECK(r.per_class[1].support == 2);
    CHECK(r.per_class[2].precision == 0.0);  // never predicted: 0, not NaN
    CHECK(r.per_class[2].recall == 0.0);
    CHECK(r.per_class[2].support == 3);
  }
}

TEST_CASE("eval: top-5 counts labels among the five highest logits, ties to the lower index") {
  EvalAccumulator acc(7);
  // Logits 6, 5, 4, 3, 2, 1, 0 for classes 0..6: class c has rank c.
  std::vector<float> ranked = {6, 5, 4, 3, 2, 1, 0};
  std::vector<float> logits, equal(7, 0.5f);
  for (int i = 0; i < 3; ++i) logits.insert(logits.end(), ranked.begin(), ranked.end());
  for (int i = 0; i < 3; ++i) logits.insert(logits.end(), equal.begin(), equal.end());
  // Ranked rows: labels 4 (rank 4: in) and 5 (rank 5: out) and 0 (top-1).
  // Equal rows: argmax is class 0; label 4 ranks 4th (in), label 5 ranks 5th (out).
  acc.add(Tensor::from_vector(logits, {6, 7}),
          Tensor::from_vector(std::vector<int64_t>{4, 5, 0, 4, 5, 0}, {6}));
  EvalResult r = acc.result();
  CHECK(r.accuracy == doctest::Approx(2.0 / 6));
  CHECK(r.top5 == doctest::Approx(4.0 / 6));
  CHECK(r.confusion[4][0] == 2);
  CHECK(r.confusion[0][0] == 2);
  CHECK(r.classes[6] == "6");  // default names
  CHECK(r.loss == doctest::Approx(((std::log(std::exp(6) + std::exp(5) + std::exp(4) + std::exp(3) +
                                             std::exp(2) + std::exp(1) + 1)) *
                                       3 -
                                   (2 + 1 + 6) + 3 * std::log(7.0)) /
                                  6));
}

TEST_CASE("eval: errors name the problem") {
  EvalAccumulator acc(3);
  CHECK_THROWS_WITH_AS(acc.add(zeros({2, 4}), zeros({2}, DType::i64)), doctest::Contains("(N, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(acc.add(zeros({2, 3}), Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})),
                       doctest::Contains("label 3"), Error);
  CHECK_THROWS_AS(EvalAccumulator(3, {"a", "b"}), Error);
  CHECK_THROWS_AS(EvalAccumulator(0), Error);
}

TEST_CASE("eval: to_json writes exactly the documented keys and reads back") {
  KnownCase k = known_case();
  data::LoaderOptions o;
  o.num_workers = 0;
  data::DataLoader loader(k.data, nullptr, o);
  EvalResult r = evaluate(*k.model, loader, 3, {"ant", "bee", "cat"});
  json j = to_json(r);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  CHECK(keys ==
        std::vector<std::string>{"accuracy", "classes", "confusion", "loss", "per_class", "top5"});
  CHECK(j["per_class"][1] ==
        json{{"name", "bee"}, {"precision", 0.4}, {"recall", 1.0}, {"support", 2}});
  CHECK(j["confusion"] == json{{3, 1, 0}, {0, 2, 0}, {1, 2, 0}});
  EvalResult back = eval_result_from_json(json::parse(j.dump()));
  CHECK(back.num_samples == 9);
  CHECK(back.confusion == r.confusion);
  CHECK(back.loss == r.loss);
  CHECK_THROWS_WITH_AS(eval_result_from_json(json{{"classes", {"a"}}}),
                       doctest::Contains("\"loss\""), Error);

  const std::string text = format_eval(r);
  CHECK(data_test::contains(text, "top-1    55.56%"));
  CHECK(data_test::contains(text, "top-3    100.00%"));
  CHECK(data_test::contains(text, "confusion matrix"));
  CHECK(data_test::contains(text, "cat -> bee: 2"));
}

TEST_CASE("eval: whet eval and whet predict on a small_cnn checkpoint and a PNG folder") {
  TempDir dir;
  models::ModelOptions mo;
  mo.num_classes = 3;
  models::ClassifierPtr model = models::create_model("small_cnn", mo);
  // Non-trivial BN statistics, so eval mode visibly matters.
  for (auto& [name, t] : model->named_buffers())
    if (name.find("running_var") != std::string::npos) {
      NoGradGuard g;
      t.fill_(2.0);
    }
  const std::string weights = dir / "model.safetensors";
  io::save_weights(*model, weights);

  // Four 28x28 gray images per class, each class a different brightness pattern.
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i) {
      std::vector<uint8_t> px(28 * 28);
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
          px[size_t(y * 28 + x)] = uint8_t((x * (c + 1) * 9 + y * i * 7) % 256);
      data::write_png(
          dir / ("images/" + std::string(1, char('a' + c)) + "/" + std::to_string(i) + ".png"),
          Tensor::from_vector(px, {28, 28, 1}, DType::u8));
    }
  const std::string images = (dir.path / "images").string();

  SUBCASE("eval matches evaluate() in process") {
    const std::string out_json = dir / "eval.json";
    Run r = run_cli("eval --model small_cnn --weights " + weights + " --data folder:" + images +
                    " --batch-size 5 --workers 1 --json " + out_json);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(data_test::contains(r.out, "top-1"));
    CHECK(data_test::contains(r.out, "confusion matrix"));
    std::ifstream f(out_json);
    json got = json::parse(f);

    data::DataOptions dopt;
    dopt.channels = 1;
    data::TrainVal tv = data::open_data("folder:" + images, dopt);
    data::LoaderOptions lo;
    lo.num_workers = 0;
    data::DataLoader loader(tv.train, data::eval_transform(28, 1), lo);
    EvalResult want = evaluate(*model, loader, 3, tv.train->class_names());
    CHECK(got["classes"] == json{"a", "b", "c"});
    CHECK(got["confusion"] == json(want.confusion));
    CHECK(got["accuracy"].get<double>() == doctest::Approx(want.accuracy));
    CHECK(got["loss"].get<double>() == doctest::Approx(want.loss).epsilon(1e-5));
    int64_t total = 0;
    for (const auto& p : got["per_class"]) total += p["support"].get<int64_t>();
    CHECK(total == 12);

    Run to_stdout =
        run_cli("eval --model small_cnn --weights " + weights + " --data " + images + " --json -",
                /*stdout_only=*/true);
    REQUIRE(to_stdout.status == 0);
    CHECK(json::parse(to_stdout.out)["confusion"] == got["confusion"]);

    Run wrong = run_cli("eval --model small_cnn --weights " + weights + " --num-classes 5 --data " +
                        images);
    CHECK(wrong.status != 0);
    CHECK(data_test::contains(wrong.out, "3-class head"));
  }

  SUBCASE("--fast-decode: eval and predict read large JPEGs at a reduced scale") {
    // 224x224 photos for a 28-pixel model: the eval transform resizes to 32 first, so they
    // may decode at 1/4 (56 pixels).
    for (int c = 0; c < 3; ++c) {
      const std::string cls = dir / ("photos/" + std::string(1, char('a' + c)));
      fs::create_directories(cls);
      Tensor img = Tensor::empty({224, 224, 1}, DType::u8);
      for (int64_t k = 0; k < img.numel(); ++k)
        img.data<uint8_t>()[k] = uint8_t((k % 224) * (c + 1) + k / 224);
      data::write_jpeg(cls + "/0.jpg", img, 90);
    }
    const std::string photos = (dir.path / "photos").string();
    Run fast = run_cli("predict --model small_cnn --weights " + weights + " --fast-decode --json " +
                       photos + "/a " + photos + "/b " + photos + "/c", /*stdout_only=*/true);
    INFO(fast.out);
    REQUIRE(fast.status == 0);
    std::istringstream lines(fast.out);
    int outputs = 0;
    for (std::string line; std::getline(lines, line);)
      outputs += json::parse(line).contains("top");
    CHECK(outputs == 3);
    Run eval = run_cli("eval --model small_cnn --weights " + weights + " --fast-decode --data " +
                       photos + " --json -", /*stdout_only=*/true);
    INFO(eval.out);
    REQUIRE(eval.status == 0);
    const json result = json::parse(eval.out);
    int64_t total = 0;
    for (const auto& p : result["per_class"]) total += p["support"].get<int64_t>();
    CHECK(total == 3);
  }

  SUBCASE("eval and predict prepare images as the run's config.toml says") {
    const std::string run_weights = dir / "run/model.safetensors";
    fs::copy_file(weights, run_weights);
    std::ofstream(dir / "run/config.toml")
        << "[model]\nmodel = \"small_cnn\"\n[data]\naugment = \"none\"\nimage_size = 24\n";
    const std::string out_json = dir / "run/eval.json";
    Run r = run_cli("eval --model small_cnn --weights " + run_weights + " --data " + images +
                    " --json " + out_json);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(data_test::contains(r.out, "none preprocessing at 24x24"));
    CHECK(data_test::contains(r.out, "run/config.toml"));
    std::ifstream f(out_json);
    json got = json::parse(f);

    train::TrainConfig c;
    c.model = "small_cnn", c.augment = "none", c.image_size = 24, c.in_channels = 1;
    data::DataOptions dopt;
    dopt.channels = 1;
    data::DataLoader loader(data::open_data(images, dopt).train, train::eval_transform_for(c));
    EvalResult want = evaluate(*model, loader, 3);
    CHECK(got["confusion"] == json(want.confusion));
    CHECK(got["loss"].get<double>() == doctest::Approx(want.loss).epsilon(1e-5));

    // Flags win over the run's settings.
    Run flagged = run_cli("eval --model small_cnn --weights " + run_weights + " --data " + images +
                          " --augment imagenet --image-size 30");
    CHECK(data_test::contains(flagged.out, "imagenet preprocessing at 30x30"));
  }

  SUBCASE("predict: top-k with probabilities, as JSON lines and text") {
    const std::string names = dir / "names.txt";
    std::ofstream(names) << "ant\nbee\ncat\n";
    Run r = run_cli("predict --model small_cnn --weights " + weights + " --json --top-k 2 " +
                    "--classes-file " + names + " " + images + "/a/0.png " + images + "/b");
    INFO(r.out);
    REQUIRE(r.status == 0);
    std::vector<json> lines = json_lines(r.out);
    REQUIRE(lines.size() == 5);  // one file and a folder of four
    CHECK(lines[0]["path"] == images + "/a/0.png");
    CHECK(lines[1]["path"] == images + "/b/0.png");
    for (const auto& l : lines) {
      REQUIRE(l["top"].size() == 2);
      CHECK(l["top"][0]["prob"].get<double>() >= l["top"][1]["prob"].get<double>());
      const int64_t idx = l["top"][0]["index"].get<int64_t>();
      CHECK(l["top"][0]["class"] == std::vector<std::string>{"ant", "bee", "cat"}[size_t(idx)]);
    }
    // All classes: the probabilities sum to 1.
    Run all = run_cli("predict --model small_cnn --weights " + weights + " --json " + images +
                      "/c/1.png");
    REQUIRE(all.status == 0);
    json one = json_lines(all.out).at(0);
    REQUIRE(one["top"].size() == 3);  // top-5 of a 3-class model
    double sum = 0;
    for (const auto& t : one["top"]) sum += t["prob"].get<double>();
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(one["top"][0]["class"] == std::to_string(one["top"][0]["index"].get<int64_t>()));

    Run text = run_cli("predict --model small_cnn --weights " + weights + " " + images + "/c");
    REQUIRE(text.status == 0);
    CHECK(data_test::contains(text.out, images + "/c/3.png\n  1. "));
  }

  SUBCASE("predict: class names from the weights' metadata") {
    const std::string named = dir / "named.safetensors";
    io::save_safetensors(named, io::to_pytorch_layout(model->state_dict()),
                         {{"class_names", "[\"ant\",\"bee\",\"cat, wild\"]"}});
    Run r = run_cli("predict --model small_cnn --weights " + named + " --json " + images + "/a");
    REQUIRE(r.status == 0);
    for (const auto& l : json_lines(r.out))
      for (const auto& t : l["top"]) {
        const std::string name = t["class"];
        CHECK((name == "ant" || name == "bee" || name == "cat, wild"));
      }
  }

  SUBCASE("predict: unreadable images are reported; the exit status follows the rule") {
    const std::string bad = dir / "bad.png";
    data_test::write_bytes(bad, {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6});
    const std::string base = "predict --model small_cnn --weights " + weights + " ";
    Run mixed =
        run_cli(base + "--json " + bad + " " + images + "/a/0.png " + (dir / "missing.png"));
    INFO(mixed.out);
    CHECK(mixed.status == 0);  // one image was classified
    std::vector<json> lines = json_lines(mixed.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["path"] == bad);
    CHECK(lines[0].contains("error"));
    CHECK(lines[1].contains("top"));
    CHECK(data_test::contains(lines[2]["error"].get<std::string>(), "no such file"));

    CHECK(run_cli(base + "--strict " + bad + " " + images + "/a/0.png").status == 1);
    Run none = run_cli(base + bad);
    CHECK(none.status == 1);
    CHECK(data_test::contains(none.out, "bad.png"));
    CHECK(run_cli(base + (dir.path / "empty_dir_absent").string()).status == 1);
  }
}
