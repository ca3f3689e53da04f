#include "data/image_folder.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/error.h"
#include "data/image_codec.h"

namespace fs = std::filesystem;

namespace whet::data {

namespace {

std::string lower_extension(const fs::path& p) {
  std::string e = p.extension().string();
  for (char& ch : e) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return e;
}

bool hidden(const fs::path& p) {
  std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

enum class FileKind { ignored, candidate, unsupported };

FileKind classify(const fs::path& p) {
  static const char* kDecoded[] = {".jpg", ".jpeg", ".png"};
  static const char* kOther[] = {".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  std::string e = lower_extension(p);
  for (const char* x : kDecoded) {
    if (e == x) return FileKind::candidate;
  }
  for (const char* x : kOther) {
    if (e == x) return FileKind::unsupported;
  }
  return FileKind::ignored;
}

// The cheap check: the file opens and starts with a JPEG or PNG signature. Returns the
// reason it is unusable, or "".
std::string check_signature(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f.is_open()) return "cannot open";
  uint8_t head[8] = {};
  f.read(reinterpret_cast<char*>(head), sizeof head);
  size_t n = size_t(f.gcount());
  if (n == 0) return "empty file";
  if (sniff_image_format(head, n) == ImageFormat::unknown) return "not a JPEG or PNG file";
  return "";
}

// Error messages from the codecs start with the path; the report lists the path already.
std::string strip_path(const std::string& what, const std::string& path) {
  if (what.compare(0, path.size() + 2, path + ": ") == 0) return what.substr(path.size() + 2);
  return what;
}

// Files under a class folder, recursively, sorted as torchvision sorts os.walk's output:
// by directory, then by file name.
std::vector<fs::path> list_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;
  auto opts = fs::directory_options::follow_directory_symlink |
              fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(dir, opts);
       it != fs::recursive_directory_iterator(); ++it) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) {
      found.emplace_back(it->path().parent_path().string(), it->path().filename().string());
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [d, f] : found) out.push_back(fs::path(d) / f);
  return out;
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options)
    : root_(root), options_(std::move(options)) {
  WHET_CHECK(options_.channels == 1 || options_.channels == 3, "ImageFolder: channels must be ",
             "1 or 3, got ", options_.channels);
  WHET_CHECK(fs::is_directory(root_), "ImageFolder: ", root_, ": no such folder");
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(root_)) {
    if (e.is_directory() && !hidden(e.path())) found.push_back(e.path().filename().string());
  }
  std::sort(found.begin(), found.end());
  WHET_CHECK(!found.empty(), "ImageFolder: ", root_, " has no class folders (expected ", root_,
             "/<class>/<image>)");
  if (options_.class_names.empty()) {
    class_names_ = found;
  } else {
    std::vector<std::string> want = options_.class_names, missing, extra;
    std::sort(want.begin(), want.end());
    std::set_difference(want.begin(), want.end(), found.begin(), found.end(),
                        std::back_inserter(missing));
    std::set_difference(found.begin(), found.end(), want.begin(), want.end(),
                        std::back_inserter(extra));
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s.empty() ? std::string("none") : s;
    };
    WHET_CHECK(missing.empty() && extra.empty(), "ImageFolder: ", root_,
               ": class folders differ from the expected classes (missing: ", join(missing),
               "; unexpected: ", join(extra), ")");
    class_names_ = options_.class_names;
  }

  // Candidates in label order, then file order.
  std::vector<Item> candidates;
  for (size_t c = 0; c < class_names_.size(); ++c) {
    for (const fs::path& p : list_files(fs::path(root_) / class_names_[c])) {
      FileKind k = classify(p);
      if (k == FileKind::candidate) candidates.push_back({p.string(), int64_t(c)});
      if (k == FileKind::unsupported) {
        std::string why = "unsupported format (" + lower_extension(p) + "); JPEG and PNG are read";
        WHET_CHECK(!options_.strict, "ImageFolder: ", p.string(), ": ", why);
        record_skip(p.string(), why);
      }
    }
  }

  scan(candidates, /*unlisted_ok=*/false, [&](size_t c) { return "class folder " + (fs::path(root_) / class_names_[c]).string(); });
}

ImageFolder::ImageFolder(const std::string& source, std::vector<std::string> class_names,
                         std::vector<LabelledFile> files, ImageFolderOptions options)
    : root_(source), listed_(true), options_(std::move(options)), class_names_(std::move(class_names)) {
  WHET_CHECK(options_.channels == 1 || options_.channels == 3, "ImageFolder: channels must be ",
             "1 or 3, got ", options_.channels);
  WHET_CHECK(!class_names_.empty(), "ImageFolder: ", source, ": no classes");
  for (const LabelledFile& f : files)
    WHET_CHECK(f.label >= 0 && f.label < int64_t(class_names_.size()), "ImageFolder: ", source, ": ",
               f.path, " has label ", f.label, " outside the ", class_names_.size(), " classes");
  scan(files, /*unlisted_ok=*/true, [&](size_t c) { return source + "'s class " + class_names_[c]; });
}

void ImageFolder::scan(const std::vector<Item>& candidates, bool unlisted_ok,
                       const std::function<std::string(size_t)>& where) {
  std::vector<std::string> problems(candidates.size());
  auto check = [&](size_t i) {
    const std::string& p = candidates[i].path;
    if (!options_.verify) {
      problems[i] = check_signature(p);
      return;
    }
    try {
      read_image(p, options_.channels, options_.min_side);
    } catch (const std::exception& e) {
      problems[i] = strip_path(e.what(), p);
    }
  };
  if (options_.verify && candidates.size() > 1) {
    // Decoding is the slow part of a scan; spread it over the cores.
    std::atomic<size_t> next{0};
    unsigned n = std::max(1u, std::min(std::thread::hardware_concurrency(), 16u));
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < n; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < candidates.size(); i = next++) check(i);
      });
    }
    for (auto& t : pool) t.join();
  } else {
    for (size_t i = 0; i < candidates.size(); ++i) check(i);
  }

  std::vector<int64_t> per_class(class_names_.size(), 0), listed(class_names_.size(), 0);
  for (const Item& c : candidates) ++listed[size_t(c.label)];
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (problems[i].empty()) {
      items_.push_back(candidates[i]);
      ++per_class[size_t(candidates[i].label)];
      continue;
    }
    WHET_CHECK(!options_.strict, "ImageFolder: ", candidates[i].path, ": ", problems[i]);
    record_skip(candidates[i].path, problems[i]);
  }
  for (size_t c = 0; c < class_names_.size(); ++c) {
    WHET_CHECK(per_class[c] > 0 || (unlisted_ok && listed[c] == 0), "ImageFolder: ", where(c),
               " has no readable JPEG or PNG image",
               skipped_.empty() ? "" : "\n" + skip_report());
  }
}

void ImageFolder::record_skip(const std::string& path, const std::string& reason) const {
  std::lock_guard<std::mutex> lock(skipped_mutex_);
  if (!skipped_paths_.insert(path).second) return;
  auto at =
      std::lower_bound(skipped_.begin(), skipped_.end(), path,
                       [](const SkippedImage& s, const std::string& p) { return s.path < p; });
  skipped_.insert(at, {path, reason});
}

Sample ImageFolder::get(int64_t i) const {
  check_index(*this, i, "ImageFolder::get");
  // A file that broke after the scan is replaced by the next readable one, deterministically.
  for (int64_t k = 0; k < size(); ++k) {
    const Item& it = items_[size_t((i + k) % size())];
    try {
      return {read_image(it.path, options_.channels, options_.min_side), it.label};
    } catch (const Error& e) {
      if (options_.strict) throw;
      record_skip(it.path, strip_path(e.what(), it.path));
    }
  }
  WHET_FAIL("ImageFolder: ", root_, ": no image can be read any more\n", skip_report());
}

int64_t ImageFolder::label(int64_t i) const {
  check_index(*this, i, "ImageFolder::label");
  return items_[size_t(i)].label;
}

const std::string& ImageFolder::path(int64_t i) const {
  check_index(*this, i, "ImageFolder::path");
  return items_[size_t(i)].path;
}

std::vector<SkippedImage> ImageFolder::skipped() const {
  std::lock_guard<std::mutex> lock(skipped_mutex_);
  return skipped_;
}

std::string ImageFolder::skip_report() const {
  std::vector<SkippedImage> s = skipped();
  if (s.empty()) return "";
  std::string out =
      detail::cat(s.size(), s.size() == 1 ? " image" : " images", " skipped in ", root_, ":");
  for (const auto& k : s) out += "\n  " + k.path + ": " + k.reason;
  return out;
}

std::string ImageFolder::describe() const {
  return detail::cat(listed_ ? "images listed in " : "image folder ", root_, " (", size(),
                     " images, ", class_names_.size(),
                     " classes", skipped().empty() ? "" : ", some skipped", ")");
}

bool has_split_folders(const std::string& root) {
  return fs::is_directory(fs::path(root) / "train");
}

TrainVal image_folder_splits(const std::string& root, const ImageFolderOptions& options) {
  fs::path train_dir = fs::path(root) / "train";
  WHET_CHECK(fs::is_directory(train_dir), "image_folder_splits: ", train_dir.string(),
             ": no such folder");
  auto train = std::make_shared<ImageFolder>(train_dir.string(), options);
  TrainVal out{train, nullptr};
  for (const char* name : {"val", "valid", "validation"}) {
    fs::path val_dir = fs::path(root) / name;
    if (!fs::is_directory(val_dir)) continue;
    ImageFolderOptions val_options = options;
    val_options.class_names = train->class_names();
    out.val = std::make_shared<ImageFolder>(val_dir.string(), val_options);
    break;
  }
  return out;
}

}  // namespace whet::data
