#include "train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"

namespace whet::train {

EvalAccumulator::EvalAccumulator(int64_t num_classes, std::vector<std::string> class_names)
    : num_classes_(num_classes), names_(std::move(class_names)) {
  WHET_CHECK(num_classes > 0, "evaluate: num_classes must be positive, got ", num_classes);
  if (names_.empty())
    for (int64_t c = 0; c < num_classes; ++c) names_.push_back(std::to_string(c));
  WHET_CHECK(int64_t(names_.size()) == num_classes, "evaluate: ", names_.size(),
             " class names for ", num_classes, " classes");
  confusion_.assign(size_t(num_classes), std::vector<int64_t>(size_t(num_classes), 0));
}

void EvalAccumulator::add(const Tensor& logits, const Tensor& labels) {
  WHET_CHECK(logits.dim() == 2 && logits.size(1) == num_classes_, "evaluate: logits ",
             shape_str(logits.shape()), " are not (N, ", num_classes_, ")");
  WHET_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0), "evaluate: labels ",
             shape_str(labels.shape()), " do not match logits ", shape_str(logits.shape()));
  const std::vector<double> z = logits.to_vector<double>();  // (N, C)
  const std::vector<int64_t> y = labels.to_vector<int64_t>();
  const int64_t k = std::min<int64_t>(5, num_classes_);
  const size_t C = size_t(num_classes_);
  for (size_t i = 0; i < y.size(); ++i) {
    const int64_t label = y[i];
    WHET_CHECK(label >= 0 && label < num_classes_, "evaluate: label ", label, " of sample ",
               n_ + int64_t(i), " is outside [0, ", num_classes_, ")");
    const double* row = z.data() + i * C;
    const double zy = row[label];
    // The label's rank under "higher logit first, lower index first among equals": the
    // order torch.argmax and a stable descending sort give.
    int64_t rank = 0, pred = 0;
    double zmax = row[0];
    for (size_t c = 0; c < C; ++c) {
      if (row[c] > zy || (row[c] == zy && int64_t(c) < label)) ++rank;
      if (row[c] > zmax) zmax = row[c], pred = int64_t(c);
    }
    double sum = 0;
    for (size_t c = 0; c < C; ++c) sum += std::exp(row[c] - zmax);
    loss_sum_ += zmax + std::log(sum) - zy;  // logsumexp(z) - z_y
    correct_ += pred == label;
    top5_correct_ += rank < k;
    ++confusion_[size_t(label)][size_t(pred)];
  }
  n_ += int64_t(y.size());
}

void EvalAccumulator::combine(dist::Communicator& comm) {
  if (comm.world_size() == 1) return;
  // Counts in one int64 message (n, correct, top-5, the confusion matrix), the loss in another.
  std::vector<int64_t> counts = {n_, correct_, top5_correct_};
  for (const auto& row : confusion_) counts.insert(counts.end(), row.begin(), row.end());
  Tensor c = Tensor::from_vector(counts, {int64_t(counts.size())});
  comm.all_reduce(c);
  counts = c.to_vector<int64_t>();
  n_ = counts[0], correct_ = counts[1], top5_correct_ = counts[2];
  size_t at = 3;
  for (auto& row : confusion_)
    for (int64_t& v : row) v = counts[at++];
  Tensor loss = Tensor::from_vector(std::vector<double>{loss_sum_}, {1});
  comm.all_reduce(loss);
  loss_sum_ = loss.to_vector<double>()[0];
}

EvalResult EvalAccumulator::result() const {
  EvalResult r;
  r.classes = names_;
  r.num_samples = n_;
  r.confusion = confusion_;
  if (n_ > 0) {
    r.loss = loss_sum_ / double(n_);
    r.accuracy = double(correct_) / double(n_);
    r.top5 = double(top5_correct_) / double(n_);
  }
  for (int64_t c = 0; c < num_classes_; ++c) {
    int64_t predicted = 0, support = 0;
    for (int64_t o = 0; o < num_classes_; ++o) {
      predicted += confusion_[size_t(o)][size_t(c)];
      support += confusion_[size_t(c)][size_t(o)];
    }
    const double tp = double(confusion_[size_t(c)][size_t(c)]);
    r.per_class.push_back({names_[size_t(c)], predicted > 0 ? tp / double(predicted) : 0.0,
                           support > 0 ? tp / double(support) : 0.0, support});
  }
  return r;
}

EvalResult evaluate(nn::Module& model, data::DataLoader& loader, int64_t num_classes,
                    std::vector<std::string> class_names, std::optional<DType> autocast,
                    dist::Communicator* comm) {
  EvalAccumulator acc(num_classes, std::move(class_names));
  Device device = Device::cpu();
  DType dtype = DType::f32;
  for (const Tensor& p : model.parameters()) {
    if (!is_floating(p.dtype())) continue;
    device = p.device(), dtype = p.dtype();
    break;
  }
  model.eval();
  NoGradGuard no_grad;
  loader.seek({0, 0});
  data::Batch b;
  while (loader.next(b)) {
    Tensor x = b.images.to(device, dtype);
    Tensor logits;
    {
      // Only the forward: a loader without workers runs the transforms on this thread.
      std::optional<AutocastGuard> guard;
      if (autocast) guard.emplace(*autocast);
      logits = model.forward(x);
    }
    acc.add(logits, b.labels);
  }
  if (comm) acc.combine(*comm);
  return acc.result();
}

nlohmann::json to_json(const EvalResult& r) {
  nlohmann::json per_class = nlohmann::json::array();
  for (const PerClass& p : r.per_class)
    per_class.push_back({{"name", p.name},
                         {"precision", p.precision},
                         {"recall", p.recall},
                         {"support", p.support}});
  nlohmann::json j;
  j["classes"] = r.classes;
  j["loss"] = r.loss;
  j["accuracy"] = r.accuracy;
  j["top5"] = r.top5;
  j["per_class"] = per_class;
  j["confusion"] = r.confusion;
  return j;
}

EvalResult eval_result_from_json(const nlohmann::json& j) {
  WHET_CHECK(j.is_object(), "eval.json: not a JSON object");
  for (const char* key : {"classes", "loss", "accuracy", "top5", "per_class", "confusion"})
    WHET_CHECK(j.contains(key), "eval.json: no \"", key, "\"");
  EvalResult r;
  try {
    r.classes = j.at("classes").get<std::vector<std::string>>();
    r.loss = j.at("loss").get<double>();
    r.accuracy = j.at("accuracy").get<double>();
    r.top5 = j.at("top5").get<double>();
    for (const auto& p : j.at("per_class")) {
      r.per_class.push_back({p.at("name").get<std::string>(), p.at("precision").get<double>(),
                             p.at("recall").get<double>(), p.at("support").get<int64_t>()});
      r.num_samples += r.per_class.back().support;
    }
    r.confusion = j.at("confusion").get<std::vector<std::vector<int64_t>>>();
  } catch (const nlohmann::json::exception& e) {
    WHET_FAIL("eval.json: ", e.what());
  }
  const size_t C = r.classes.size();
  WHET_CHECK(r.per_class.size() == C && r.confusion.size() == C, "eval.json: ", C, " classes but ",
             r.per_class.size(), " per_class entries and ", r.confusion.size(), " confusion rows");
  for (const auto& row : r.confusion)
    WHET_CHECK(row.size() == C, "eval.json: a confusion row has ", row.size(), " entries, not ", C);
  return r;
}

namespace {
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(std::string s, size_t width, bool right = false) {
  if (s.size() > width) s = s.substr(0, width);
  const std::string fill(width - s.size(), ' ');
  return right ? fill + s : s + fill;
}
}  // namespace

std::string format_eval(const EvalResult& r) {
  // The full matrix stops being readable on a terminal past a few dozen classes; the list of
  // the largest off-diagonal counts says what matters there (the JSON keeps everything).
  constexpr size_t kMaxMatrixClasses = 40, kTopConfusions = 10;
  const size_t C = r.classes.size();
  std::ostringstream os;
  os << "samples  " << r.num_samples << "\n"
     << "loss     " << fmt("%.4f", r.loss) << "\n"
     << "top-1    " << fmt("%.2f%%", 100 * r.accuracy) << "\n"
     << "top-" << std::min<size_t>(5, C) << "    " << fmt("%.2f%%", 100 * r.top5) << "\n\n";

  size_t name_w = 5;
  for (const auto& n : r.classes) name_w = std::max(name_w, std::min<size_t>(n.size(), 24));
  const size_t idx_w = std::to_string(C == 0 ? 0 : C - 1).size();
  auto row_label = [&](size_t c) {
    return pad(std::to_string(c), idx_w, true) + " " + pad(r.classes[c], name_w);
  };
  os << pad("", idx_w) << " " << pad("class", name_w) << "  precision  recall  support\n";
  for (size_t c = 0; c < C; ++c) {
    const PerClass& p = r.per_class[c];
    os << row_label(c) << "  " << pad(fmt("%.4f", p.precision), 9, true) << "  "
       << pad(fmt("%.4f", p.recall), 6, true) << "  " << pad(std::to_string(p.support), 7, true)
       << "\n";
  }

  if (C <= kMaxMatrixClasses) {
    int64_t biggest = 0;
    for (const auto& row : r.confusion)
      for (int64_t v : row) biggest = std::max(biggest, v);
    const size_t w = std::max(std::to_string(biggest).size(), idx_w) + 1;
    os << "\nconfusion matrix (rows: true class, columns: predicted class index)\n"
       << pad("", idx_w + 1 + name_w);
    for (size_t c = 0; c < C; ++c) os << pad(std::to_string(c), w, true);
    os << "\n";
    for (size_t t = 0; t < C; ++t) {
      os << row_label(t);
      for (size_t p = 0; p < C; ++p) os << pad(std::to_string(r.confusion[t][p]), w, true);
      os << "\n";
    }
  }

  struct Cell {
    int64_t count;
    size_t t, p;
  };
  std::vector<Cell> off;
  for (size_t t = 0; t < C; ++t)
    for (size_t p = 0; p < C; ++p)
      if (t != p && r.confusion[t][p] > 0) off.push_back({r.confusion[t][p], t, p});
  std::stable_sort(off.begin(), off.end(),
                   [](const Cell& a, const Cell& b) { return a.count > b.count; });
  if (!off.empty()) {
    os << "\nmost frequent confusions (true -> predicted)\n";
    for (size_t i = 0; i < std::min(off.size(), kTopConfusions); ++i)
      os << "  " << r.classes[off[i].t] << " -> " << r.classes[off[i].p] << ": " << off[i].count
         << "\n";
  }
  return os.str();
}

}  // namespace whet::train
