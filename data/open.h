// Opening a dataset from the command line's --data string, with its validation half and the
// few-shot options, so `whet train` needs one call:
//
//   fashion-mnist[:DIR]      Debian's dataset-fashion-mnist (train; validation = the test set)
//   idx:IMAGES,LABELS        any MNIST-style IDX pair (gzipped or not)
//   folder:DIR  or  DIR      an image folder; DIR/train + DIR/val are used when present
//   tensors:FILE             images (N, H, W, C) + labels (N) in a safetensors file
//   csv:TRAIN.csv[,VAL.csv]  images listed with their class names (data/image_csv.h)
//
// Validation: with val_fraction > 0 the training set is split (stratified, seeded); without,
// the source's own validation set is used (fashion-mnist's test set, DIR/val), or none.
// Then `classes` keeps those classes in both halves, relabelled 0..k-1 in the order given, and
// `per_class` limits the training half only (a few-shot run is still judged on the full
// validation set).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/subset.h"
#include "data/tensor_dataset.h"

namespace whet::data {

struct TensorFile {
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;
};
// Reads a tensor file. data/ cannot include io/, so the CLI passes
//   [](const std::string& p) {
//     auto f = io::load_safetensors(p);
//     return TensorFile{f.tensors, f.metadata};
//   }
using TensorFileLoader = std::function<TensorFile(const std::string& path)>;

struct DataOptions {
  int channels = 3;               // decoded images: 1 or 3 (IDX and tensor files keep their own)
  bool strict = false;            // unreadable images are errors instead of skipped
  bool verify = false;            // decode every image while scanning a folder
  int64_t min_side = 0;           // > 0: JPEGs may decode smaller (ImageFolderOptions)
  double val_fraction = 0.0;      // > 0: split the training set, stratified
  uint64_t seed = 0;              // for the split and the per-class pick
  std::vector<int64_t> classes;   // keep only these, relabelled 0..k-1 (empty: all)
  int64_t per_class = 0;          // > 0: at most this many training samples per class
  TensorFileLoader load_tensors;  // needed for tensors:FILE
};

// val is null when there is no validation data.
TrainVal open_data(const std::string& spec, const DataOptions& options = {});

// Lines for the training log: each half's description, and the images an image folder
// skipped (with paths), if any.
std::string describe_data(const TrainVal& data);

}  // namespace whet::data
