// The corrupt-input sweep of tests/test_corrupt_inputs.cpp: feeds a reader every prefix of a
// valid input (or ~200 of them) and seeded corruptions of it, and checks that each attempt
// loads or throws whet::Error naming the input, counting the refusals. Also the byte helpers
// the sweeps need: CRC-32, big- and little-endian fields, PNG chunk and zip entry CRC repair.
#pragma once
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"

namespace corrupt_test {

using namespace whet;

using Bytes = std::string;
using Reader = std::function<void(const Bytes&)>;  // loads the bytes or throws

inline Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

// A reader of files: the bytes go to `path` first, so the errors must name it.
inline Reader via_file(const std::string& path, std::function<void(const std::string&)> read) {
  return [path, read](const Bytes& b) {
    write_bytes(path, b);
    read(path);
  };
}

// Reads every byte of a loaded tensor, so a view past its storage shows under ASan.
inline void touch(const Tensor& t) {
  const uint8_t* p = static_cast<const uint8_t*>(t.raw_data());
  uint64_t sum = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
  volatile uint64_t sink = sum;  // keeps the reads from being optimised away
  (void)sink;
}
inline void touch_all(const io::NamedTensors& sd) {
  for (const auto& kv : sd) touch(kv.second);
}

// The process's peak resident set, in bytes. A reader that believed a damaged size field would
// fill (or at least zero) what it allocated; the peak is how a Release build sees it.
inline uint64_t peak_rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return uint64_t(u.ru_maxrss) * 1024;
}
// Inputs here are a few kilobytes: a sweep whose peak grows by this much believed a size field.
// Generous, because ASan keeps freed blocks in a quarantine of up to 256 MiB.
inline constexpr uint64_t kMaxPeakGrowth = uint64_t(1) << 30;

// CRC-32 (IEEE, as zip, PNG and gzip use it), bit by bit: the inputs are small.
inline uint32_t crc32_of(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}
inline const uint8_t* u8p(const Bytes& b, size_t at = 0) {
  return reinterpret_cast<const uint8_t*>(b.data()) + at;
}
inline uint32_t be32(const Bytes& b, size_t at) {
  const uint8_t* p = u8p(b, at);
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline void put_be32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + size_t(i)] = char(v >> (24 - 8 * i));
}
inline uint32_t le(const Bytes& b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | u8p(b, at)[i];
  return v;
}
inline void put_le32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + size_t(i)] = char(v >> (8 * i));
}

// Recomputes every PNG chunk's CRC as far as the (possibly damaged) lengths lead, so that the
// damage reaches libpng's decompression and filters instead of its CRC check.
inline void repair_png_crcs(Bytes& b) {
  for (size_t at = 8; at + 12 <= b.size();) {
    uint64_t len = be32(b, at);
    if (len > b.size() - at - 12) return;
    put_be32(b, at + 8 + size_t(len), crc32_of(u8p(b, at + 4), 4 + size_t(len)));
    at += 12 + size_t(len);
  }
}

// A STORED zip entry's data range and where its CRC is written (local and central headers),
// found by walking the central directory of an intact archive.
struct ZipSlot {
  size_t data = 0, size = 0, local_crc = 0, central_crc = 0;
};
inline ZipSlot stored_entry(const Bytes& zip, const std::string& name) {
  size_t end = zip.rfind(std::string("PK\x05\x06", 4));
  REQUIRE(end != std::string::npos);
  size_t pos = le(zip, end + 16, 4), count = le(zip, end + 10, 2);
  for (size_t i = 0; i < count; ++i) {
    REQUIRE(le(zip, pos, 4) == 0x02014b50u);
    size_t nlen = le(zip, pos + 28, 2), xlen = le(zip, pos + 30, 2), clen = le(zip, pos + 32, 2);
    if (zip.compare(pos + 46, nlen, name) == 0) {
      REQUIRE(le(zip, pos + 10, 2) == 0);  // STORED
      size_t local = le(zip, pos + 42, 4);
      ZipSlot s;
      s.size = le(zip, pos + 20, 4);
      s.data = local + 30 + le(zip, local + 26, 2) + le(zip, local + 28, 2);
      s.local_crc = local + 14;
      s.central_crc = pos + 16;
      return s;
    }
    pos += 46 + nlen + xlen + clen;
  }
  FAIL("no entry ", name, " in the archive");
  return {};
}

struct SweepOptions {
  uint32_t seed = 1;
  int corruptions = 300;
  bool prefixes = true;
  size_t lo = 0, hi = std::string::npos;  // corruptions land in [lo, hi)
  std::function<void(Bytes&)> repair;     // re-seals checksums after each corruption
  std::string alphabet;                   // for text formats: half the replaced bytes come from it
};

struct Tally {
  int prefixes = 0, prefixes_refused = 0;
  int corruptions = 0, corruptions_refused = 0;
  int bad = 0;  // outcomes other than success or a whet::Error naming the input
};

// All lengths below n for small inputs, about 200 evenly spaced ones (0 and n - 1 among them)
// otherwise.
inline std::vector<size_t> prefix_lengths(size_t n) {
  std::vector<size_t> out;
  const size_t kAll = 600, kSpread = 200;
  if (n <= kAll) {
    for (size_t k = 0; k < n; ++k) out.push_back(k);
  } else {
    for (size_t i = 0; i < kSpread; ++i) out.push_back(i * (n - 1) / (kSpread - 1));
  }
  return out;
}

// 1 to 3 edits in [lo, hi): one byte replaced, one bit flipped, or a run of 2 to 8 bytes set to
// random values, zeroes or 0xff (length fields of all zeroes or all ones are where readers
// overflow). Returns what was done, for the report.
inline std::string corrupt(Bytes& b, const SweepOptions& o, std::mt19937& rng) {
  const size_t lo = o.lo, hi = std::min(o.hi, b.size());
  auto random_byte = [&] {
    if (!o.alphabet.empty() && rng() % 2) return uint8_t(o.alphabet[rng() % o.alphabet.size()]);
    return uint8_t(rng());
  };
  std::ostringstream what;
  const int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    const size_t at = lo + rng() % (hi - lo);
    const int kind = int(rng() % 5);
    const size_t len = kind < 2 ? 1 : std::min<size_t>(2 + rng() % 7, hi - at);
    what << (e ? ", " : "") << "bytes " << at << ".." << at + len - 1 << " ->";
    for (size_t i = 0; i < len; ++i) {
      auto& c = reinterpret_cast<uint8_t&>(b[at + i]);
      switch (kind) {
        case 1:
          c ^= uint8_t(1u << (rng() % 8));
          break;
        case 3:
          c = 0;
          break;
        case 4:
          c = 0xFF;
          break;
        default:
          c = random_byte();
      }
      what << ' ' << int(c);
    }
  }
  return what.str();
}

// Feeds `read` the prefixes and corruptions of `good`, which must itself load. An error's
// message must contain `must_name` (the path, or the name the reader was given).
inline Tally sweep(const std::string& what, const Bytes& good, const Reader& read,
                   const std::string& must_name, const SweepOptions& o = {}) {
  INFO("sweep: ", what);
  REQUIRE_NOTHROW(read(good));
  Tally t;
  int reported = 0;
  auto attempt = [&](const Bytes& b, const std::string& label, bool is_prefix) {
    std::string problem;
    bool refused = false;
    try {
      read(b);
    } catch (const Error& e) {
      refused = true;
      const std::string msg = e.what();
      if (msg.find(must_name) == std::string::npos)
        problem = "whet::Error without naming " + must_name + ": " + msg;
    } catch (const std::exception& e) {
      problem = std::string("threw ") + typeid(e).name() + " (not whet::Error): " + e.what();
    } catch (...) {
      problem = "threw something that is not a std::exception";
    }
    (is_prefix ? t.prefixes_refused : t.corruptions_refused) += refused;
    if (problem.empty()) return;
    ++t.bad;
    if (reported++ < 8) FAIL_CHECK(what, ", ", label, ": ", problem);
  };
  const uint64_t peak_before = peak_rss();
  if (o.prefixes) {
    for (size_t n : prefix_lengths(good.size())) {
      ++t.prefixes;
      attempt(good.substr(0, n), "the first " + std::to_string(n) + " bytes", true);
    }
  }
  std::mt19937 rng(o.seed);
  for (int i = 0; i < o.corruptions; ++i) {
    Bytes b = good;
    std::string label = "corruption " + std::to_string(i) + " (" + corrupt(b, o, rng) + ")";
    if (o.repair) o.repair(b);
    ++t.corruptions;
    attempt(b, label, false);
  }
  CHECK_MESSAGE(peak_rss() - peak_before < kMaxPeakGrowth, what, ": peak memory grew by ",
                (peak_rss() - peak_before) >> 20, " MiB");
  CHECK(t.bad == 0);
  MESSAGE(what, ": ", t.prefixes_refused, "/", t.prefixes, " prefixes and ", t.corruptions_refused,
          "/", t.corruptions, " corruptions refused");
  return t;
}

}  // namespace corrupt_test
