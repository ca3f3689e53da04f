// Views of a dataset: a list of its indices, optionally relabelled. They make few-shot and
// transfer experiments one flag away (torch.utils.data.Subset plus the bookkeeping people
// write around it):
//
//   auto five = select_classes(fmnist, {5, 6, 7, 8, 9});   // labels 0..4 in that order
//   auto few = limit_per_class(five, 100, seed);            // 100 images of each class
//   auto [train, val] = split_by_fraction(few, 0.2, seed);  // 80 / 20 in every class
//
// All choices are seeded and deterministic; the chosen indices keep the base dataset's order.
#pragma once
#include <cstdint>
#include <vector>

#include "data/dataset.h"

namespace whet::data {

class Subset : public Dataset {
 public:
  // `label_map[old] = new` relabels (every chosen sample's label must map to >= 0), with
  // `class_names` naming the new labels; both empty keep the base's labels and names.
  Subset(DatasetPtr base, std::vector<int64_t> indices, std::vector<int64_t> label_map = {},
         std::vector<std::string> class_names = {}, std::string note = "subset");

  int64_t size() const override { return int64_t(indices_.size()); }
  Sample get(int64_t i) const override;
  int64_t label(int64_t i) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::string describe() const override;

  const std::vector<int64_t>& indices() const { return indices_; }  // into the base
  const DatasetPtr& base() const { return base_; }

 private:
  int64_t relabel(int64_t base_label) const;

  DatasetPtr base_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> label_map_;
  std::vector<std::string> class_names_;
  std::string note_;
};

// Rank `rank`'s contiguous share of `base` among `world` processes: indices
// [rank * n / world, (rank + 1) * n / world). The shares are disjoint and cover base; they
// differ in size by at most one. Needs n >= world, so that no share is empty.
DatasetPtr shard(DatasetPtr base, int rank, int world);

// The samples of the given classes, relabelled 0..k-1 in the order given. Throws for an
// empty list, a duplicate or an out-of-range class.
DatasetPtr select_classes(DatasetPtr base, const std::vector<int64_t>& classes);

// The first `per_class` samples of every class after a seeded shuffle of that class (all of
// them where a class has fewer). per_class must be positive.
DatasetPtr limit_per_class(DatasetPtr base, int64_t per_class, uint64_t seed);

struct TrainVal {
  DatasetPtr train, val;
};

// A seeded random split with round(n * val_fraction) samples in validation. Stratified (the
// default), it splits every class on its own with round(n_c * val_fraction), so class
// proportions match in both halves, which matters for small few-shot sets. val_fraction must
// lie in (0, 1) and leave both halves non-empty.
TrainVal split_by_fraction(DatasetPtr base, double val_fraction, uint64_t seed,
                           bool stratified = true);

// All labels, in order, through Dataset::label (no image decoding).
std::vector<int64_t> all_labels(const Dataset& d);

}  // namespace whet::data
