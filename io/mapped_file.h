// A whole file mapped into memory, private to this process. Tensors loaded from the file keep
// a shared_ptr to it (through their Storage), so the mapping lives exactly as long as the last
// tensor that views it, and a large weights file loads without a copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace whet::io {

class MappedFile {
 public:
  // Maps `path` (opened read-only) copy-on-write: pages are readable and writable, but a write
  // lands in a private copy of the page and never reaches the file. Writable because whet
  // tensors are mutable (fill_, copy_, optimizer steps): a read-only mapping would turn such an
  // update of a loaded tensor into a segfault. An empty file is not mapped (size() == 0).
  // Throws whet::Error naming the path when the file cannot be opened, sized or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace whet::io
