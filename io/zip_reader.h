// A read-only zip archive over a memory-mapped file: the container torch.save has written
// since PyTorch 1.6. Entries STORED (what torch writes, 64-byte aligned) are returned as views
// of the mapping, without a copy; DEFLATE entries (an archive re-zipped by other tools) are
// inflated with zlib. Zip64 (archives or entries past 4 GiB) is read. Encryption, multi-disk
// archives and other compression methods are refused.
//
// Every offset and size read from the file is checked against the file before use, and each
// entry's CRC-32 is verified when it is read, so a damaged or hostile archive ends in a
// whet::Error "`source`: ..." rather than a crash or a huge allocation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"

namespace whet::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 STORED, 8 DEFLATE
  uint32_t crc32 = 0;
  uint64_t data_offset = 0;  // of the (compressed) bytes in the file
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
};

// The bytes of one entry. `data` shares ownership of the mapping (STORED) or owns an inflated
// buffer (64-byte aligned, DEFLATE); either way it stays valid after the reader is gone. The
// mapping is private copy-on-write, so writing through `data` never changes the file.
struct ZipBytes {
  std::shared_ptr<uint8_t> data;
  size_t size = 0;
};

class ZipReader {
 public:
  // Reads and checks the central directory and every local header. `source` prefixes errors
  // (e.g. "load_pth: model.pth").
  ZipReader(std::shared_ptr<MappedFile> file, std::string source);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // nullptr when absent
  // The entry's uncompressed bytes, CRC-checked.
  ZipBytes read(const ZipEntry& e) const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void read_directory();

  std::shared_ptr<MappedFile> file_;
  std::string source_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t> by_name_;
};

// True when the first bytes are a zip local header or an empty archive's end record.
bool has_zip_magic(const uint8_t* p, size_t n);

}  // namespace whet::io
