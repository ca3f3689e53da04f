// `whet predict`: the top-k classes of images, with softmax probabilities.
//   whet predict --model resnet18 --weights run/model.safetensors [--classes-file names.txt]
//                [--top-k 5] [--json] [--image-size 224] [--device cuda] [--precision bf16]
//                IMAGE_OR_FOLDER...
// Folders are searched recursively for .jpg, .jpeg and .png files (in path order); files
// named directly are decoded whatever their extension (the format is told by content).
// Class names: --classes-file (one per line), else the weights' "class_names" metadata,
// else the class index. Images are prepared as the training run's validation images were
// (tools/whet/load_classifier.h run_eval_transform; --augment and --image-size override).
// --precision means what it means for `whet train` (train/setup.h PrecisionPolicy), for the
// forward only: bf16 / fp16 autocast, tf32 matrix math on CUDA; the softmax is float32.
//
// Output: per image, the path and its top-k lines; with --json, one JSON object per line
// (JSON Lines, so a long folder streams):
//   {"path":"a.png","top":[{"class":"cat","index":3,"prob":0.91},...]}
// An image that cannot be read or decoded is reported with its path and reason (on stderr,
// or as {"path":..,"error":..} with --json) and the others still run. Exit status: 0 when
// at least one image was classified, 1 when none was (all failed, or no image found); with
// --strict, 1 as soon as any image failed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/math_mode.h"
#include "data/image_codec.h"
#include "data/transforms.h"
#include "tools/whet/commands.h"
#include "tools/whet/load_classifier.h"
#include "train/setup.h"

namespace whet::cli {

namespace {
namespace fs = std::filesystem;

struct PredictArgs : ClassifierArgs {
  std::string classes_file, device = "cpu", precision = "fp32";
  std::vector<std::string> inputs;
  int64_t top_k = 5, batch_size = 32;
  bool json = false, strict = false;
};

struct Input {
  std::string path, error;  // error set: reported, not classified
};

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<Input> collect_inputs(const std::vector<std::string>& args) {
  std::vector<Input> out;
  for (const std::string& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(a, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file() && is_image_name(it->path()))
          found.push_back(it->path().string());
      if (ec) out.push_back({a, "cannot list the folder: " + ec.message()});
      std::sort(found.begin(), found.end());
      if (found.empty() && !ec) out.push_back({a, "no .jpg, .jpeg or .png files in the folder"});
      for (auto& f : found) out.push_back({f, ""});
    } else if (fs::exists(a, ec)) {
      out.push_back({a, ""});
    } else {
      out.push_back({a, "no such file or folder"});
    }
  }
  return out;
}

struct Ranked {
  int64_t index;
  double prob;
};

// The k most probable classes, the lower index first among equals (as torch.topk on CPU).
std::vector<Ranked> top_k(const double* probs, int64_t C, int64_t k) {
  std::vector<int64_t> idx(static_cast<size_t>(C));
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, C);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
    return probs[a] > probs[b] || (probs[a] == probs[b] && a < b);
  });
  std::vector<Ranked> out;
  for (int64_t i = 0; i < k; ++i) out.push_back({idx[size_t(i)], probs[idx[size_t(i)]]});
  return out;
}

void report_error(const Input& in, bool json) {
  if (json)
    std::cout << nlohmann::json{{"path", in.path}, {"error", in.error}}.dump() << std::endl;
  else
    std::cerr << "whet predict: " << in.path << ": " << in.error << "\n";
}

int run_predict(const PredictArgs& a) {
  const Device device = train::runnable_device(a.device);
  train::check_precision_device(a.precision, device);
  const train::PrecisionPolicy precision = train::precision_policy(a.precision);
  LoadedClassifier lc = load_classifier(a.model, a.weights, a.num_classes, a.width_mult);
  lc.model->to(device);
  set_allow_tf32(precision.tf32);
  const int64_t C = lc.model->num_classes();
  std::vector<std::string> names =
      a.classes_file.empty() ? lc.class_names : read_class_names_file(a.classes_file);
  WHET_CHECK(names.empty() || int64_t(names.size()) == C, a.classes_file, ": ", names.size(),
             " class names for a ", C, "-class model");
  if (names.empty())
    for (int64_t c = 0; c < C; ++c) names.push_back(std::to_string(c));

  const int channels = int(lc.model->in_channels());
  const int decode_channels = channels == 1 ? 1 : 3;
  std::string preprocessing;
  int64_t resize_side = 0;
  const data::TransformPtr transform = run_eval_transform(
      lc, a.model, a.weights, a.image_size, a.augment, preprocessing, &resize_side);
  const int64_t min_side = a.fast_decode ? resize_side : 0;

  std::vector<Input> inputs = collect_inputs(a.inputs);
  int64_t ok = 0, failed = 0;
  NoGradGuard no_grad;
  // Batches of up to batch_size inputs; results, failures included, come out in input order.
  for (size_t begin = 0; begin < inputs.size();) {
    const size_t end = std::min(inputs.size(), begin + size_t(a.batch_size));
    // Decoded and transformed on all cores (an input per task; each catches its own errors),
    // then stacked in input order.
    std::vector<Tensor> loaded(end - begin);
    const int64_t count = int64_t(end - begin);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t k = 0; k < count; ++k) {
      Input& in = inputs[begin + size_t(k)];
      if (!in.error.empty()) continue;
      try {
        Generator gen;  // the eval transform draws nothing; apply() wants one
        loaded[size_t(k)] =
            transform->apply(data::read_image(in.path, decode_channels, min_side), gen);
      } catch (const std::exception& e) {
        in.error = e.what();
        // The decoder's messages start with the path, which the report gives already.
        if (in.error.rfind(in.path + ": ", 0) == 0) in.error.erase(0, in.path.size() + 2);
      }
    }
    std::vector<Tensor> images;
    std::vector<int64_t> row(end - begin, -1);  // input -> row of the batch, -1: failed
    for (size_t k = 0; k < loaded.size(); ++k) {
      if (!loaded[k].defined()) continue;
      images.push_back(std::move(loaded[k]));
      row[k] = int64_t(images.size()) - 1;
    }
    std::vector<double> p;  // (N, C)
    if (!images.empty()) {
      Tensor logits;  // (N, C)
      {
        AutocastGuard autocast(precision.dtype, precision.autocast);
        logits = lc.model->forward(stack(images).to(device));
      }
      p = softmax(logits.to(DType::f32), -1).to_vector<double>();
    }
    for (size_t i = begin; i < end; ++i) {
      const Input& in = inputs[i];
      if (row[i - begin] < 0) {
        report_error(in, a.json);
        ++failed;
        continue;
      }
      const std::vector<Ranked> top = top_k(p.data() + row[i - begin] * C, C, a.top_k);
      if (a.json) {
        nlohmann::json t = nlohmann::json::array();
        for (const Ranked& r : top)
          t.push_back({{"class", names[size_t(r.index)]}, {"index", r.index}, {"prob", r.prob}});
        std::cout << nlohmann::json{{"path", in.path}, {"top", t}}.dump() << std::endl;
      } else {
        std::cout << in.path << "\n";
        for (size_t j = 0; j < top.size(); ++j) {
          char prob[32];
          std::snprintf(prob, sizeof prob, "%.4f", top[j].prob);
          std::cout << "  " << j + 1 << ". " << prob << "  " << names[size_t(top[j].index)] << "\n";
        }
        std::cout << std::flush;  // keep stdout and the stderr error lines in order
      }
      ++ok;
    }
    begin = end;
  }
  if (failed > 0 && !a.json)
    std::cerr << "whet predict: " << ok << " image(s) classified, " << failed << " failed\n";
  return ok == 0 || (a.strict && failed > 0) ? 1 : 0;
}
}  // namespace

void add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Top-k classes of images (files or folders)");
  auto a = std::make_shared<PredictArgs>();
  add_classifier_options(cmd, *a);
  cmd->add_option("--classes-file", a->classes_file, "Class names, one per line")
      ->check(CLI::ExistingFile);
  cmd->add_option("--top-k", a->top_k, "How many classes to list per image")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", a->batch_size, "Images per forward")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "One JSON object per image and line");
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto");
  cmd->add_option("--precision", a->precision,
                  "fp32; bf16 or fp16: forward under autocast (mixed precision, CPU or CUDA); "
                  "tf32: float32 with TF32 matrix math (CUDA only)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16"}));
  cmd->add_flag("--strict", a->strict, "Exit 1 when any image fails (default: only when all do)");
  cmd->add_option("inputs", a->inputs, "Image files and folders")->required();
  cmd->callback([a] { set_action([a] { return run_predict(*a); }); });
}

}  // namespace whet::cli
