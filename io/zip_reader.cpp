// The zip format as PKWARE's APPNOTE.TXT defines it (sections 4.3.7 local header, 4.3.12
// central directory header, 4.3.14-16 zip64 end records, 4.5.3 zip64 extra field), read the
// way the central directory is authoritative: local headers are only checked to agree with it.
#include "io/zip_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/storage.h"

namespace whet::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22;
constexpr size_t kZip64EndSize = 56, kZip64LocatorSize = 20;
constexpr uint32_t kMax32 = 0xFFFFFFFFu;
// DEFLATE cannot expand data by more than about 1032:1 (a 258-byte match in ~2 bits), so a
// larger claimed size is a lie: refusing it keeps allocations bounded by the file's size.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return uint32_t(u16(p)) | (uint32_t(u16(p + 2)) << 16); }
uint64_t u64(const uint8_t* p) { return uint64_t(u32(p)) | (uint64_t(u32(p + 4)) << 32); }

uint32_t crc_of(const uint8_t* p, size_t n) {
  return uint32_t(crc32_z(crc32_z(0, nullptr, 0), p, n));
}

}  // namespace

bool has_zip_magic(const uint8_t* p, size_t n) {
  return n >= 4 && p[0] == 'P' && p[1] == 'K' &&
         ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

ZipReader::ZipReader(std::shared_ptr<MappedFile> file, std::string source)
    : file_(std::move(file)), source_(std::move(source)) {
  read_directory();
}

void ZipReader::fail(const std::string& what) const { WHET_FAIL(source_, ": ", what); }

void ZipReader::read_directory() {
  const uint8_t* base = file_->data();
  const uint64_t size = file_->size();
  if (size < kEndSize)
    fail("not a zip archive: " + std::to_string(size) + " bytes is too short for one");

  // The end record sits in the last 22 + 65535 (comment) bytes; search backwards for it.
  uint64_t end = size;  // "not found"
  uint64_t lowest = size > kEndSize + 0xFFFF ? size - kEndSize - 0xFFFF : 0;
  for (uint64_t pos = size - kEndSize + 1; pos-- > lowest;) {
    if (u32(base + pos) == kEndSig && pos + kEndSize + u16(base + pos + 20) <= size) {
      end = pos;
      break;
    }
  }
  if (end == size)
    fail("no zip end-of-central-directory record (the file is truncated or not a zip)");
  const uint8_t* e = base + end;
  if (u16(e + 4) != 0 || (u16(e + 6) != 0 && u16(e + 6) != 0xFFFF))
    fail("multi-disk (split) zip archives are not supported");
  uint64_t count = u16(e + 10), cd_size = u32(e + 12), cd_offset = u32(e + 16);
  uint64_t cd_limit = end;  // the central directory ends before the end record(s)

  if (end >= kZip64LocatorSize && u32(e - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint8_t* loc = e - kZip64LocatorSize;
    uint64_t z_end = u64(loc + 8);
    uint64_t loc_pos = end - kZip64LocatorSize;
    if (z_end > loc_pos || loc_pos - z_end < kZip64EndSize)
      fail("zip64 end record offset " + std::to_string(z_end) + " is out of range");
    const uint8_t* z = base + z_end;
    if (u32(z) != kZip64EndSig) fail("zip64 end record has a bad signature");
    count = u64(z + 32);
    cd_size = u64(z + 40);
    cd_offset = u64(z + 48);
    cd_limit = z_end;
  }
  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset)
    fail("central directory (offset " + std::to_string(cd_offset) + ", " + std::to_string(cd_size) +
         " bytes) lies outside the file (truncated?)");
  if (count > cd_size / kCentralSize)
    fail(std::to_string(count) + " entries cannot fit a central directory of " +
         std::to_string(cd_size) + " bytes");

  entries_.reserve(size_t(count));
  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd_end - pos < kCentralSize || u32(base + pos) != kCentralSig)
      fail("central directory entry " + std::to_string(i) + " is malformed");
    const uint8_t* c = base + pos;
    uint16_t flags = u16(c + 8), nlen = u16(c + 28), xlen = u16(c + 30), clen = u16(c + 32);
    if (cd_end - pos - kCentralSize < uint64_t(nlen) + xlen + clen)
      fail("central directory entry " + std::to_string(i) + " runs past the directory");
    ZipEntry z;
    z.name.assign(reinterpret_cast<const char*>(c + kCentralSize), nlen);
    const std::string what = "entry '" + z.name + "'";
    z.method = u16(c + 10);
    z.crc32 = u32(c + 16);
    z.compressed_size = u32(c + 20);
    z.size = u32(c + 24);
    uint64_t local = u32(c + 42);
    if (flags & 1) fail(what + " is encrypted");
    if (z.method != 0 && z.method != 8)
      fail(what + " uses compression method " + std::to_string(z.method) +
           " (only STORED and DEFLATE are supported)");

    // Zip64 extra field: the 64-bit values of the fields saturated at 0xFFFFFFFF, in order.
    const uint8_t* x = c + kCentralSize + nlen;
    for (size_t k = 0; k + 4 <= xlen;) {
      uint16_t id = u16(x + k), len = u16(x + k + 2);
      if (k + 4 + len > xlen) fail(what + ": extra field runs past its end");
      if (id == 0x0001) {
        const uint8_t* f = x + k + 4;
        size_t left = len;
        for (uint64_t* v : {&z.size, &z.compressed_size, &local}) {
          if (*v != kMax32) continue;
          if (left < 8) fail(what + ": zip64 extra field is too short");
          *v = u64(f);
          f += 8;
          left -= 8;
        }
      }
      k += 4 + size_t(len);
    }

    if (local > cd_offset || cd_offset - local < kLocalSize || u32(base + local) != kLocalSig)
      fail(what + ": local header offset " + std::to_string(local) +
           " does not point at a local file header");
    const uint8_t* l = base + local;
    uint64_t data = local + kLocalSize + u16(l + 26) + u16(l + 28);
    if (data > cd_offset || u16(l + 26) != nlen ||
        std::memcmp(l + kLocalSize, z.name.data(), nlen) != 0)
      fail(what + ": local header does not match the central directory");
    if (z.compressed_size > cd_offset - data)
      fail(what + ": its " + std::to_string(z.compressed_size) +
           " bytes run past the end of the entry data (truncated?)");
    if (z.method == 0 && z.compressed_size != z.size)
      fail(what + ": stored entry has compressed size " + std::to_string(z.compressed_size) +
           " but size " + std::to_string(z.size));
    z.data_offset = data;
    if (!by_name_.emplace(z.name, entries_.size()).second) fail("duplicate " + what);
    entries_.push_back(std::move(z));
    pos += kCentralSize + nlen + xlen + clen;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

ZipBytes ZipReader::read(const ZipEntry& e) const {
  const uint8_t* src = file_->data() + e.data_offset;
  ZipBytes out;
  out.size = size_t(e.size);
  if (e.method == 0) {
    // Aliasing constructor: points at the entry, owns a share of the mapping.
    out.data = std::shared_ptr<uint8_t>(file_, file_->data() + e.data_offset);
  } else {
    if (e.size / kMaxDeflateRatio > e.compressed_size)
      fail("entry '" + e.name + "' claims " + std::to_string(e.size) + " bytes from " +
           std::to_string(e.compressed_size) + " compressed, more than DEFLATE can expand to");
    if (e.size > 0)
      out.data = std::static_pointer_cast<uint8_t>(allocate_storage(out.size, Device::cpu()).data);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("zlib inflateInit failed");
    uint64_t in_left = e.compressed_size, out_left = e.size;
    zs.next_in = const_cast<Bytef*>(src);
    // zlib refuses a null output pointer even with no room asked for: an empty entry points
    // at a byte it never writes.
    Bytef no_output = 0;
    zs.next_out = e.size > 0 ? out.data.get() : &no_output;
    int rc = Z_OK;
    // zlib counts in 32-bit units: feed and drain it in pieces.
    while (rc == Z_OK) {
      if (zs.avail_in == 0 && in_left > 0) {
        zs.avail_in = uInt(std::min<uint64_t>(in_left, 1u << 30));
        in_left -= zs.avail_in;
      }
      if (zs.avail_out == 0 && out_left > 0) {
        zs.avail_out = uInt(std::min<uint64_t>(out_left, 1u << 30));
        out_left -= zs.avail_out;
      }
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) break;    // input ran out
      if (rc == Z_BUF_ERROR && zs.avail_out == 0 && out_left == 0) break;  // output full
    }
    bool complete = rc == Z_STREAM_END && zs.avail_out == 0 && out_left == 0;
    const char* msg = zs.msg;
    inflateEnd(&zs);
    if (!complete)
      fail("entry '" + e.name + "': DEFLATE data is corrupt or does not inflate to its " +
           std::to_string(e.size) + " bytes" + (msg ? std::string(" (") + msg + ")" : ""));
  }
  uint32_t crc = crc_of(out.data.get(), out.size);
  if (crc != e.crc32) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "CRC-32 %08x, the directory says %08x", crc, e.crc32);
    fail("entry '" + e.name + "' is corrupt: its bytes have " + buf);
  }
  return out;
}

}  // namespace whet::io
