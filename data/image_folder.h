// A folder of images, one sub-folder per class, as torchvision's ImageFolder:
//
//   root/daisy/0001.jpg        class names are the sub-folder names, sorted (byte order,
//   root/daisy/sub/0002.png    i.e. code point order, as Python's sorted()); files are
//   root/tulip/0003.jpeg       found recursively and sorted by (directory, file name)
//
// Files with a JPEG or PNG extension (case-insensitive .jpg .jpeg .png) are candidates; other
// image extensions (.bmp .gif .tif .tiff .webp .ppm .pgm) are listed in the skip report as
// unsupported; anything else (.txt, .DS_Store) is ignored. Folders whose name starts with a
// dot are ignored (torchvision would make ".ipynb_checkpoints" a class).
//
// Unreadable images are skipped and reported (path and reason), or throw at once in `strict`
// mode. Scanning checks each file's signature (cheap) or, with `verify`, decodes every image
// (thorough, on all cores). An image that fails later, in get(), is reported too and replaced
// by the next readable sample in the folder, so an epoch keeps its length and order.
//
// Errors: a root that is missing or has no class folders, and a class folder with no usable
// image, are errors naming the folder.
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/subset.h"

namespace whet::data {

struct ImageFolderOptions {
  int channels = 3;     // decode to 1 (gray) or 3 (RGB)
  bool strict = false;  // throw on the first unreadable image instead of skipping it
  bool verify = false;  // decode every image while scanning, not only check its signature
  // > 0: JPEGs decode at 1/2, 1/4 or 1/8 scale where the shorter side stays at least this
  // (data/image_codec.h; faster on photos much larger than the model's input).
  int64_t min_side = 0;
  // When non-empty, the class list (and label order) to use; every name must be a folder
  // and every folder a name: how a val/ folder is made to agree with train/.
  std::vector<std::string> class_names;
};

struct SkippedImage {
  std::string path, reason;
};

class ImageFolder : public Dataset {
 public:
  struct LabelledFile {
    std::string path;
    int64_t label;
  };

  explicit ImageFolder(const std::string& root, ImageFolderOptions options = {});
  // Images listed explicitly (a CSV's rows, data/image_csv.h), with the same scan, skipping
  // and reports; `source` names the list in messages. options.class_names is ignored.
  ImageFolder(const std::string& source, std::vector<std::string> class_names,
              std::vector<LabelledFile> files, ImageFolderOptions options = {});

  int64_t size() const override { return int64_t(items_.size()); }
  Sample get(int64_t i) const override;
  int64_t label(int64_t i) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  std::string describe() const override;

  const std::string& root() const { return root_; }
  const std::string& path(int64_t i) const;
  // Everything skipped so far, while scanning and since, in path order; safe from any thread.
  std::vector<SkippedImage> skipped() const;
  // "3 images skipped:\n  PATH: REASON\n..." or "" when none.
  std::string skip_report() const;

 private:
  using Item = LabelledFile;
  // Checks every candidate (signature or full decode), keeps the readable ones, and fails
  // when a class is left without images (with `unlisted_ok`, only a class that had
  // candidates: a validation list may lack a class); `where(c)` names class c's source.
  void scan(const std::vector<Item>& candidates, bool unlisted_ok,
            const std::function<std::string(size_t)>& where);
  void record_skip(const std::string& path, const std::string& reason) const;

  std::string root_;
  bool listed_ = false;  // made from a list of files, not by walking a folder
  ImageFolderOptions options_;
  std::vector<std::string> class_names_;
  std::vector<Item> items_;
  mutable std::mutex skipped_mutex_;
  mutable std::vector<SkippedImage> skipped_;
  mutable std::set<std::string> skipped_paths_;
};

// The folder split: root/train and root/val (or root/valid, root/validation) as two image
// folders with the same classes (val's class folders must match train's). Returns
// val = nullptr when root has no validation folder; throws when it has no train folder.
TrainVal image_folder_splits(const std::string& root, const ImageFolderOptions& options = {});

// True when `root` holds a train/ sub-folder (the layout image_folder_splits reads).
bool has_split_folders(const std::string& root);

}  // namespace whet::data
