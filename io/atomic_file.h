// A file that appears whole or not at all: bytes go to a temporary file beside the target,
// which commit() flushes to disk and renames over it. A crash or an error at any point leaves
// the target as it was (absent or the old version) and no temporary file behind.
#pragma once
#include <cstddef>
#include <string>

namespace whet::io {

class AtomicFileWriter {
 public:
  // Creates the temporary file in the target's directory (rename is atomic only within one
  // file system). `op` prefixes error messages, e.g. "save_safetensors".
  AtomicFileWriter(std::string path, std::string op);
  // Removes the temporary file unless commit() succeeded. Never throws.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  // fsync, close, rename onto the target, then fsync the directory so the rename itself is
  // durable. After a throw the temporary file is already gone.
  void commit();

  const std::string& temp_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;

  std::string path_, op_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace whet::io
