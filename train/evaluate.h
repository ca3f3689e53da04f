// Evaluating a classifier on a labelled dataset: mean cross-entropy, top-1 and top-5
// accuracy, per-class precision and recall, and the confusion matrix (what torchmetrics'
// MulticlassAccuracy(top_k), MulticlassPrecision/Recall(average=None) and
// MulticlassConfusionMatrix give). What `whet eval` prints and the trainer's validation pass
// and eval.json are built from.
//
//   EvalResult r = evaluate(model, val_loader, num_classes, dataset->class_names());
//   write_text(dir + "/eval.json", to_json(r).dump(2));
//
// Conventions, where libraries differ:
//   - top-1 prediction = argmax of the logits, the lowest index winning ties (torch.argmax);
//     top-k counts a sample when its label ranks among the k highest logits with the same
//     tie rule, so top-1 accuracy and the k = 1 case always agree.
//   - top-5 uses k = min(5, C): with fewer than 5 classes every label is within the top C,
//     so top5 is 1.0 (torchmetrics refuses top_k > C; 1.0 is what the definition gives).
//   - precision of a class never predicted and recall of a class absent from the data are 0
//     (scikit-learn's zero_division=0 default, without its warning).
//   - the loss is computed on the host in double precision from the float logits: the mean
//     of -log softmax(logits)[label], PyTorch's F.cross_entropy with reduction="mean".
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/loader.h"
#include "dist/communicator.h"
#include "nn/module.h"

namespace whet::train {

struct PerClass {
  std::string name;
  double precision = 0, recall = 0;
  int64_t support = 0;  // samples whose true label is this class
};

struct EvalResult {
  std::vector<std::string> classes;
  int64_t num_samples = 0;  // not in the JSON: the sum of the supports
  double loss = 0, accuracy = 0, top5 = 0;
  std::vector<PerClass> per_class;              // one per class, in label order
  std::vector<std::vector<int64_t>> confusion;  // [true label][predicted label] counts
};

// Accumulates logits batch by batch, for loops that run the model themselves (the trainer's
// validation pass on a device, with autocast). evaluate() below is built on it.
class EvalAccumulator {
 public:
  // class_names empty: "0".."C-1"; otherwise exactly num_classes names.
  EvalAccumulator(int64_t num_classes, std::vector<std::string> class_names = {});

  // logits (N, C) any floating dtype and device; labels (N) integers in [0, C).
  void add(const Tensor& logits, const Tensor& labels);
  int64_t num_samples() const { return n_; }
  EvalResult result() const;
  // Adds up the accumulators of every rank of `comm` (each saw its share of the data), so all
  // hold the whole set's counts. A collective: every rank calls it once per pass.
  void combine(dist::Communicator& comm);

 private:
  int64_t num_classes_;
  std::vector<std::string> names_;
  int64_t n_ = 0, correct_ = 0, top5_correct_ = 0;
  double loss_sum_ = 0;
  std::vector<std::vector<int64_t>> confusion_;
};

// Runs `model` in eval mode without autograd over one pass of `loader` (its current epoch,
// from the start: the loader is seeked to (0, 0); use a loader without shuffle for a stable
// order, though the metrics do not depend on it). Batches go to the device and floating dtype
// of the model's first parameter. The model is left in eval mode; the caller switches back
// to train(). With `autocast` (float16 or bfloat16) each forward, and nothing else, runs under
// an AutocastGuard of that dtype (core/autocast.h: mixed-precision inference); without it, under
// the caller's autocast state. Throws whet::Error for logits that are not (N, num_classes) and
// out-of-range labels.
// With `comm`, each rank's loader holds its share of the data and the counts are added up
// over the ranks (EvalAccumulator::combine), so every rank returns the whole set's result.
EvalResult evaluate(nn::Module& model, data::DataLoader& loader, int64_t num_classes,
                    std::vector<std::string> class_names = {},
                    std::optional<DType> autocast = std::nullopt,
                    dist::Communicator* comm = nullptr);

// {"classes":[..],"loss":..,"accuracy":..,"top5":..,
//  "per_class":[{"name":..,"precision":..,"recall":..,"support":..}],"confusion":[[..]]}
nlohmann::json to_json(const EvalResult& r);
// The inverse (for `whet report` and tests); throws whet::Error naming a missing key.
EvalResult eval_result_from_json(const nlohmann::json& j);

// A human-readable summary: totals, the per-class table and the confusion matrix (class
// names abbreviated to fit), for `whet eval` and logs.
std::string format_eval(const EvalResult& r);

}  // namespace whet::train
