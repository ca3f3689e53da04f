#include "io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace whet::io::safetensors {

namespace {

using json = nlohmann::json;

struct DTypeInfo {
  const char* name;
  size_t bits;
};
// Indexed by FileDType.
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", 8}, {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"I16", 16},
    {"U16", 16}, {"F16", 16},    {"BF16", 16},   {"I32", 32},    {"U32", 32},
    {"F32", 32}, {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
};
constexpr size_t kNumDTypes = sizeof(kDTypes) / sizeof(kDTypes[0]);
static_assert(kNumDTypes == size_t(FileDType::U64) + 1, "kDTypes must list every FileDType");

// serde_json's default recursion limit: the reference refuses headers nested deeper.
constexpr int kMaxDepth = 128;

constexpr const char* kMetadataKey = "__metadata__";

template <class... Args>
[[noreturn]] void fail(const std::string& source, const Args&... args) {
  throw Error(detail::cat(source, ": ", args...));
}

// A JSON string as the reference (serde_json) writes it: only '"', '\\' and control
// characters are escaped, short forms where JSON has them, else \u00xx in lower-case hex;
// everything else, non-ASCII included, is copied as is.
void append_json_string(std::string& out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += char(c);
        }
    }
  }
  out += '"';
}

// A name as it appears in messages: quoted, with control characters escaped.
std::string quoted(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// A non-negative JSON integer that fits in 64 bits (serde's usize), or false. nlohmann reads
// "-0" as a signed integer 0; serde_json reads it as the float -0.0 and refuses it, so do we.
bool get_u64(const json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return true;
}

// nlohmann::json keeps the last of duplicate keys silently. So does the reference for tensor
// names and metadata keys (a repeated tensor then shows up as a misleading offset error,
// safetensors issue #401, or not at all when both entries are identical); only a repeated
// field inside an entry is an error there. This parser callback sees every key as it is read
// and stops at the first repeat of any kind, naming it; it also bounds nesting depth as
// serde_json does.
class KeyChecker {
 public:
  explicit KeyChecker(const std::string& source) : source_(source) {}

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        std::string owner;
        if (!frames_.empty() && frames_.back().is_object) owner = frames_.back().last_key;
        frames_.push_back(
            {event == json::parse_event_t::object_start, {}, {}, owner, frames_.size()});
        if (int(frames_.size()) > kMaxDepth)
          fail(source_, "header JSON nests deeper than ", kMaxDepth, " levels");
        break;
      }
      case json::parse_event_t::key: {
        Frame& f = frames_.back();
        f.last_key = parsed.get<std::string>();
        if (!f.keys.insert(f.last_key).second) fail_duplicate(f);
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
      default:
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string last_key;
    std::string owner;  // the key whose value this object or array is
    size_t level;       // 0 for the top-level object
  };

  [[noreturn]] void fail_duplicate(const Frame& f) {
    const std::string& k = f.last_key;
    if (f.level == 0) fail(source_, "duplicate tensor name ", quoted(k), " in the header");
    if (f.level == 1 && f.owner == kMetadataKey)
      fail(source_, "duplicate key ", quoted(k), " in \"__metadata__\"");
    if (f.level == 1) fail(source_, "tensor ", quoted(f.owner), ": duplicate field ", quoted(k));
    fail(source_, "duplicate key ", quoted(k), " in the header JSON");
  }

  const std::string& source_;
  std::vector<Frame> frames_;
};

std::map<std::string, std::string> read_metadata(const json& m, const std::string& source) {
  std::map<std::string, std::string> out;
  if (m.is_null()) return out;  // serde reads `null` as "no metadata"
  if (m.is_object() && m.contains("data_offsets"))
    fail(source,
         "a tensor is named \"__metadata__\": that key is reserved for the metadata "
         "object (string to string)");
  if (!m.is_object())
    fail(source, "\"__metadata__\" must be an object of strings, not ", m.type_name());
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string())
      fail(source, "\"__metadata__\" value for key ", quoted(k), " must be a string, not ",
           v.type_name());
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

const json& field(const json& entry, const char* name, const std::string& tensor,
                  const std::string& source) {
  auto it = entry.find(name);
  if (it == entry.end()) fail(source, "tensor ", quoted(tensor), ": missing field \"", name, "\"");
  return *it;
}

TensorEntry read_entry(const std::string& name, const json& e, const std::string& source) {
  TensorEntry t;
  t.name = name;
  const std::string what = "tensor " + quoted(name);
  if (!e.is_object())
    fail(source, what, ": entry must be an object with dtype, shape and data_offsets, not ",
         e.type_name());
  // Fields other than these three are ignored, as serde does by default.
  const json& dt = field(e, "dtype", name, source);
  if (!dt.is_string()) fail(source, what, ": \"dtype\" must be a string, not ", dt.type_name());
  if (!parse_file_dtype(dt.get<std::string>(), &t.dtype))
    fail(source, what, ": unknown dtype ", quoted(dt.get<std::string>()));

  const json& sh = field(e, "shape", name, source);
  if (!sh.is_array())
    fail(source, what, ": \"shape\" must be an array of integers, not ", sh.type_name());
  // Extents and their running product must fit int64 (whet's Shape); the reference stops at
  // usize overflow of the same running product, one bit later.
  uint64_t numel = 1;
  constexpr uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
  for (const json& d : sh) {
    uint64_t v;
    if (!get_u64(d, &v))
      fail(source, what, ": \"shape\" entries must be non-negative integers, found ", d.dump());
    if (v > kMax || (v != 0 && numel > kMax / v))
      fail(source, what, ": shape ", sh.dump(), " overflows a 64-bit element count");
    numel *= v;
    t.shape.push_back(int64_t(v));
  }

  const json& off = field(e, "data_offsets", name, source);
  if (!off.is_array() || off.size() != 2 || !get_u64(off[0], &t.begin) || !get_u64(off[1], &t.end))
    fail(source, what,
         ": \"data_offsets\" must be [begin, end], two non-negative integers; "
         "found ",
         off.dump());
  if (t.end < t.begin) fail(source, what, ": data_offsets ", off.dump(), " end before they begin");

  size_t bits = file_dtype_bits(t.dtype);
  if (numel > std::numeric_limits<uint64_t>::max() / bits)
    fail(source, what, ": shape ", sh.dump(), " of dtype ", file_dtype_name(t.dtype),
         " overflows a 64-bit byte count");
  if (numel * bits % 8 != 0)
    fail(source, what, ": ", numel, " elements of ", file_dtype_name(t.dtype),
         " do not fill a whole number of bytes");
  uint64_t nbytes = numel * bits / 8;
  if (nbytes != t.end - t.begin)
    fail(source, what, ": shape ", sh.dump(), " of dtype ", file_dtype_name(t.dtype), " needs ",
         nbytes, " bytes but data_offsets ", off.dump(), " hold ", t.end - t.begin);
  return t;
}

// The reference requires the tensors, sorted by offsets, to tile the data buffer exactly:
// each starts where the previous ends, the first at 0, the last at the buffer's end.
void check_tiling(const std::vector<TensorEntry>& ts, uint64_t data_bytes,
                  const std::string& source) {
  uint64_t pos = 0;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry& t : ts) {
    std::string range = detail::cat("[", t.begin, ", ", t.end, ")");
    if (t.begin < pos)
      fail(source, "tensor ", quoted(t.name), " bytes ", range, " overlap tensor ",
           quoted(prev->name), " bytes [", prev->begin, ", ", prev->end, ")");
    if (t.begin > pos && !prev)
      fail(source, "gap in the data buffer: tensor ", quoted(t.name), " starts at byte ", t.begin,
           " but nothing comes before it");
    if (t.begin > pos)
      fail(source, "gap in the data buffer: tensor ", quoted(t.name), " starts at byte ", t.begin,
           " but the previous tensor, ", quoted(prev->name), ", ends at byte ", pos);
    if (t.end > data_bytes)
      fail(source, "tensor ", quoted(t.name), " bytes ", range,
           " lie past the end of the data buffer (", data_bytes, " bytes)");
    pos = t.end;
    if (t.end > t.begin) prev = &t;
  }
  if (pos != data_bytes)
    fail(source, data_bytes - pos, " trailing bytes after the last tensor (tensors end at byte ",
         pos, " of a ", data_bytes, "-byte data buffer)");
}

}  // namespace

const char* file_dtype_name(FileDType t) { return kDTypes[size_t(t)].name; }
size_t file_dtype_bits(FileDType t) { return kDTypes[size_t(t)].bits; }

bool parse_file_dtype(const std::string& name, FileDType* out) {
  for (size_t i = 0; i < kNumDTypes; ++i)
    if (name == kDTypes[i].name) {
      *out = FileDType(i);
      return true;
    }
  return false;
}

size_t utf8_error_offset(const char* s, size_t n) {
  const auto* u = reinterpret_cast<const unsigned char*>(s);
  size_t i = 0;
  while (i < n) {
    unsigned c = u[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      return i;
    if (n - i < len) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((u[i + k] & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (u[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return n;
}

Header parse_header(const char* text, size_t n, uint64_t data_bytes, const std::string& source) {
  size_t bad = utf8_error_offset(text, n);
  if (bad != n) fail(source, "header is not valid UTF-8 (bad byte at header offset ", bad, ")");

  // nlohmann::json ends the input at a NUL byte and skips a leading byte-order mark;
  // serde_json rejects both, and so does the reference.
  if (const void* nul = std::memchr(text, 0, n))
    fail(source, "header is not valid JSON: NUL byte at header offset ",
         static_cast<const char*>(nul) - text);
  if (n >= 3 && std::memcmp(text, "\xef\xbb\xbf", 3) == 0)
    fail(source, "header is not valid JSON: it starts with a byte-order mark");

  json root;
  try {
    KeyChecker check(source);
    root = json::parse(text, text + n, std::ref(check));
  } catch (const json::exception& e) {
    fail(source, "header is not valid JSON: ", e.what());
  }
  if (!root.is_object()) fail(source, "header must be a JSON object, not ", root.type_name());

  Header h;
  for (const auto& [key, value] : root.items()) {
    if (key == kMetadataKey)
      h.metadata = read_metadata(value, source);
    else
      h.tensors.push_back(read_entry(key, value, source));
  }
  // Names are unique and come out of the object sorted, so ties (empty tensors at one offset)
  // keep name order.
  std::stable_sort(h.tensors.begin(), h.tensors.end(),
                   [](const TensorEntry& a, const TensorEntry& b) {
                     return std::make_pair(a.begin, a.end) < std::make_pair(b.begin, b.end);
                   });
  check_tiling(h.tensors, data_bytes, source);
  return h;
}

std::string write_header(const std::vector<TensorEntry>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  std::string out = "{";
  bool first = true;
  if (!metadata.empty()) {
    out += "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, k);
      out += ':';
      append_json_string(out, v);
    }
    out += '}';
    first = false;
  }
  for (const TensorEntry& t : tensors) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, t.name);
    out += ":{\"dtype\":\"";
    out += file_dtype_name(t.dtype);
    out += "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(t.shape[i]);
    }
    out += "],\"data_offsets\":[" + std::to_string(t.begin) + ',' + std::to_string(t.end) + "]}";
  }
  out += '}';
  out.append((8 - out.size() % 8) % 8, ' ');
  return out;
}

}  // namespace whet::io::safetensors
