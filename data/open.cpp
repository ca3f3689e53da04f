#include "data/open.h"

#include <filesystem>

#include "core/error.h"
#include "data/idx.h"
#include "data/image_csv.h"
#include "data/image_folder.h"

namespace whet::data {

namespace {

// "kind:rest" -> {kind, rest}; a spec without a known prefix is a folder path.
std::pair<std::string, std::string> parse_spec(const std::string& spec) {
  for (const char* kind : {"fashion-mnist", "idx", "folder", "tensors", "csv"}) {
    std::string k = kind;
    if (spec == k) return {k, ""};
    if (spec.compare(0, k.size() + 1, k + ":") == 0) return {k, spec.substr(k.size() + 1)};
  }
  return {"folder", spec};
}

TrainVal open_source(const std::string& spec, const DataOptions& o) {
  auto [kind, rest] = parse_spec(spec);
  if (kind == "fashion-mnist") {
    std::string dir = rest.empty() ? kFashionMnistDir : rest;
    return {fashion_mnist("train", dir), fashion_mnist("test", dir)};
  }
  if (kind == "idx") {
    size_t comma = rest.find(',');
    WHET_CHECK(comma != std::string::npos, "--data ", spec, ": expected idx:IMAGES,LABELS");
    return {std::make_shared<IdxDataset>(rest.substr(0, comma), rest.substr(comma + 1)), nullptr};
  }
  if (kind == "tensors") {
    WHET_CHECK(!rest.empty(), "--data ", spec, ": expected tensors:FILE");
    WHET_CHECK(o.load_tensors != nullptr, "--data ", spec,
               ": no tensor file loader was given (DataOptions::load_tensors)");
    TensorFile f = o.load_tensors(rest);
    return {tensor_dataset_from(f.tensors, f.metadata, rest), nullptr};
  }
  ImageFolderOptions fo;
  fo.channels = o.channels;
  fo.strict = o.strict;
  fo.verify = o.verify;
  fo.min_side = o.min_side;
  if (kind == "csv") {
    WHET_CHECK(!rest.empty(), "--data ", spec, ": expected csv:TRAIN.csv[,VAL.csv]");
    return image_csv_splits(rest, fo);
  }
  WHET_CHECK(!rest.empty(), "--data ", spec, ": expected folder:DIR");
  if (has_split_folders(rest)) return image_folder_splits(rest, fo);
  WHET_CHECK(std::filesystem::is_directory(rest), "--data ", spec, ": ", rest,
             " is not a folder (nor one of fashion-mnist, idx:, tensors:, csv:)");
  return {std::make_shared<ImageFolder>(rest, fo), nullptr};
}

// The image folder under a chain of subsets, if any.
const ImageFolder* find_folder(const Dataset* d) {
  while (d) {
    if (auto* f = dynamic_cast<const ImageFolder*>(d)) return f;
    auto* s = dynamic_cast<const Subset*>(d);
    d = s ? s->base().get() : nullptr;
  }
  return nullptr;
}

}  // namespace

TrainVal open_data(const std::string& spec, const DataOptions& o) {
  TrainVal d = open_source(spec, o);
  if (o.val_fraction > 0.0) d = split_by_fraction(d.train, o.val_fraction, o.seed);
  if (!o.classes.empty()) {
    d.train = select_classes(d.train, o.classes);
    if (d.val) d.val = select_classes(d.val, o.classes);
  }
  if (o.per_class > 0) d.train = limit_per_class(d.train, o.per_class, o.seed);
  return d;
}

std::string describe_data(const TrainVal& data) {
  std::string out = "train: " + data.train->describe();
  out += "\nval:   " + (data.val ? data.val->describe() : std::string("none"));
  const ImageFolder* seen = nullptr;
  for (const DatasetPtr& d : {data.train, data.val}) {
    const ImageFolder* f = find_folder(d.get());
    if (!f || f == seen) continue;
    seen = f;
    std::string report = f->skip_report();
    if (!report.empty()) out += "\n" + report;
  }
  return out;
}

}  // namespace whet::data
