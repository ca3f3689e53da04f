#include "data/subset.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "core/error.h"
#include "data/sample_rng.h"

namespace whet::data {

void check_index(const Dataset& d, int64_t i, const char* what) {
  WHET_CHECK(i >= 0 && i < d.size(), what, ": index ", i, " is out of range for ", d.describe());
}

std::vector<int64_t> all_labels(const Dataset& d) {
  std::vector<int64_t> labels(size_t(d.size()));
  for (int64_t i = 0; i < d.size(); ++i) labels[size_t(i)] = d.label(i);
  return labels;
}

Subset::Subset(DatasetPtr base, std::vector<int64_t> indices, std::vector<int64_t> label_map,
               std::vector<std::string> class_names, std::string note)
    : base_(std::move(base)),
      indices_(std::move(indices)),
      label_map_(std::move(label_map)),
      class_names_(std::move(class_names)),
      note_(std::move(note)) {
  WHET_CHECK(base_ != nullptr, "Subset: no base dataset");
  WHET_CHECK(label_map_.empty() == class_names_.empty(),
             "Subset: a label map needs the names of the new classes, and only then");
  if (label_map_.empty()) class_names_ = base_->class_names();
  for (int64_t i : indices_) check_index(*base_, i, "Subset");
}

int64_t Subset::relabel(int64_t base_label) const {
  if (label_map_.empty()) return base_label;
  int64_t l = base_label >= 0 && base_label < int64_t(label_map_.size())
                  ? label_map_[size_t(base_label)]
                  : -1;
  WHET_CHECK(l >= 0, "Subset: label ", base_label, " of ", base_->describe(),
             " has no place in the selected classes");
  return l;
}

Sample Subset::get(int64_t i) const {
  check_index(*this, i, "Subset::get");
  Sample s = base_->get(indices_[size_t(i)]);
  s.label = relabel(s.label);
  return s;
}

int64_t Subset::label(int64_t i) const {
  check_index(*this, i, "Subset::label");
  return relabel(base_->label(indices_[size_t(i)]));
}

std::string Subset::describe() const {
  return detail::cat(note_, " of ", base_->describe(), " (", size(), " samples, ",
                     class_names_.size(), " classes)");
}

DatasetPtr select_classes(DatasetPtr base, const std::vector<int64_t>& classes) {
  WHET_CHECK(base != nullptr, "select_classes: no dataset");
  WHET_CHECK(!classes.empty(), "select_classes: no classes given");
  std::vector<std::string> base_names = base->class_names();
  std::vector<int64_t> map(base_names.size(), -1);
  std::vector<std::string> names;
  for (size_t k = 0; k < classes.size(); ++k) {
    int64_t c = classes[k];
    WHET_CHECK(c >= 0 && c < int64_t(base_names.size()), "select_classes: class ", c,
               " is out of range: ", base->describe(), " has ", base_names.size(), " classes");
    WHET_CHECK(map[size_t(c)] < 0, "select_classes: class ", c, " is listed twice");
    map[size_t(c)] = int64_t(k);
    names.push_back(base_names[size_t(c)]);
  }
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < base->size(); ++i) {
    int64_t l = base->label(i);
    if (l >= 0 && l < int64_t(map.size()) && map[size_t(l)] >= 0) indices.push_back(i);
  }
  std::string note = "classes {";
  for (size_t k = 0; k < classes.size(); ++k) note += (k ? "," : "") + std::to_string(classes[k]);
  note += "}";
  return std::make_shared<Subset>(base, std::move(indices), std::move(map), std::move(names), note);
}

// Indices of each class, in dataset order.
static std::vector<std::vector<int64_t>> indices_by_class(const Dataset& d) {
  std::vector<std::vector<int64_t>> by(size_t(d.num_classes()));
  for (int64_t i = 0; i < d.size(); ++i) {
    int64_t l = d.label(i);
    WHET_CHECK(l >= 0 && l < int64_t(by.size()), "label ", l, " of sample ", i, " in ",
               d.describe(), " is outside [0, ", by.size(), ")");
    by[size_t(l)].push_back(i);
  }
  return by;
}

DatasetPtr shard(DatasetPtr base, int rank, int world) {
  WHET_CHECK(base != nullptr, "shard: no dataset");
  WHET_CHECK(world >= 1 && rank >= 0 && rank < world, "shard: rank ", rank,
             " is outside a world of ", world);
  if (world == 1) return base;
  const int64_t n = base->size();
  WHET_CHECK(n >= world, "shard: ", base->describe(), " has ", n, " samples, fewer than the ",
             world, " processes that share it");
  std::vector<int64_t> indices;
  for (int64_t i = n * rank / world; i < n * (rank + 1) / world; ++i) indices.push_back(i);
  return std::make_shared<Subset>(base, std::move(indices), std::vector<int64_t>{},
                                  std::vector<std::string>{},
                                  "share " + std::to_string(rank + 1) + " of " +
                                      std::to_string(world));
}

DatasetPtr limit_per_class(DatasetPtr base, int64_t per_class, uint64_t seed) {
  WHET_CHECK(base != nullptr, "limit_per_class: no dataset");
  WHET_CHECK(per_class > 0, "limit_per_class: per_class must be positive, got ", per_class);
  std::vector<int64_t> chosen;
  auto by = indices_by_class(*base);
  for (size_t c = 0; c < by.size(); ++c) {
    Generator g(stream_key(seed, Stream::per_class, c));
    shuffle(by[c], g);
    size_t n = std::min(by[c].size(), size_t(per_class));
    chosen.insert(chosen.end(), by[c].begin(), by[c].begin() + int64_t(n));
  }
  std::sort(chosen.begin(), chosen.end());
  return std::make_shared<Subset>(base, std::move(chosen), std::vector<int64_t>{},
                                  std::vector<std::string>{},
                                  detail::cat(per_class, " per class (seed ", seed, ")"));
}

TrainVal split_by_fraction(DatasetPtr base, double val_fraction, uint64_t seed, bool stratified) {
  WHET_CHECK(base != nullptr, "split_by_fraction: no dataset");
  WHET_CHECK(val_fraction > 0.0 && val_fraction < 1.0,
             "split_by_fraction: the validation fraction must lie in (0, 1), got ", val_fraction);
  std::vector<std::vector<int64_t>> groups;
  if (stratified) {
    groups = indices_by_class(*base);
  } else {
    groups.emplace_back(size_t(base->size()));
    std::iota(groups[0].begin(), groups[0].end(), int64_t(0));
  }
  std::vector<int64_t> train, val;
  for (size_t c = 0; c < groups.size(); ++c) {
    Generator g(stream_key(seed, Stream::split, c));
    shuffle(groups[c], g);
    // std::nearbyint rounds half to even, as Python's round().
    size_t n_val = size_t(std::nearbyint(double(groups[c].size()) * val_fraction));
    val.insert(val.end(), groups[c].begin(), groups[c].begin() + int64_t(n_val));
    train.insert(train.end(), groups[c].begin() + int64_t(n_val), groups[c].end());
  }
  WHET_CHECK(!train.empty() && !val.empty(), "split_by_fraction: a validation fraction of ",
             val_fraction, " leaves ", train.size(), " training and ", val.size(),
             " validation samples of ", base->describe());
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  std::string how =
      detail::cat(stratified ? "stratified " : "", "split ", val_fraction, " (seed ", seed, ")");
  return {std::make_shared<Subset>(base, std::move(train), std::vector<int64_t>{},
                                   std::vector<std::string>{}, "train part of " + how),
          std::make_shared<Subset>(base, std::move(val), std::vector<int64_t>{},
                                   std::vector<std::string>{}, "validation part of " + how)};
}

}  // namespace whet::data
