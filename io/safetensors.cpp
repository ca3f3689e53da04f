#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <type_traits>

#include "core/autograd.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/safetensors_header.h"
#include "nn/module.h"

namespace whet::io {

static_assert(std::is_same_v<NamedTensors, nn::NamedTensors>,
              "io::NamedTensors must stay the same type as nn::NamedTensors");
// The format is little-endian and stores BOOL as one byte; views and raw writes rely on both.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes little-endian");
static_assert(sizeof(bool) == 1, "safetensors BOOL is one byte");

namespace {

using safetensors::FileDType;
using safetensors::TensorEntry;

template <class... Args>
[[noreturn]] void fail(const std::string& source, const Args&... args) {
  throw Error(detail::cat(source, ": ", args...));
}

// The whet dtype a file dtype loads as without conversion, if any.
bool direct_dtype(FileDType f, DType* out) {
  switch (f) {
    case FileDType::F32:
      *out = DType::f32;
      return true;
    case FileDType::F64:
      *out = DType::f64;
      return true;
    case FileDType::F16:
      *out = DType::f16;
      return true;
    case FileDType::BF16:
      *out = DType::bf16;
      return true;
    case FileDType::I64:
      *out = DType::i64;
      return true;
    case FileDType::I32:
      *out = DType::i32;
      return true;
    case FileDType::U8:
      *out = DType::u8;
      return true;
    case FileDType::BOOL:
      *out = DType::boolean;
      return true;
    default:
      return false;
  }
}

FileDType file_dtype_of(DType d) {
  switch (d) {
    case DType::f32:
      return FileDType::F32;
    case DType::f64:
      return FileDType::F64;
    case DType::f16:
      return FileDType::F16;
    case DType::bf16:
      return FileDType::BF16;
    case DType::i64:
      return FileDType::I64;
    case DType::i32:
      return FileDType::I32;
    case DType::u8:
      return FileDType::U8;
    case DType::boolean:
      return FileDType::BOOL;
  }
  WHET_FAIL("save_safetensors: unknown dtype");
}

// OCP FP8 E4M3 ("fn": no infinities, S.1111.111 is NaN), bias 7.
float f8_e4m3_to_float(uint8_t b) {
  int e = (b >> 3) & 0xf, m = b & 7;
  float v = e == 0                ? std::ldexp(float(m), -9)
            : (e == 15 && m == 7) ? std::numeric_limits<float>::quiet_NaN()
                                  : std::ldexp(float(8 + m), e - 10);
  return (b & 0x80) ? -v : v;
}
// E5M2 is binary16 cut to its top byte.
float f8_e5m2_to_float(uint8_t b) { return float(Half::to_float(uint16_t(b << 8))); }
// E8M0: an unsigned power-of-two exponent (MX scales), 0xff is NaN.
float f8_e8m0_to_float(uint8_t b) {
  return b == 0xff ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, int(b) - 127);
}

// Reads n little-endian elements of type S from possibly misaligned bytes into a new tensor
// of dtype `to`, through f(S) -> element of `to`.
template <class S, class D, class F>
Tensor convert(const uint8_t* src, const Shape& shape, DType to, F f) {
  Tensor t = Tensor::empty(shape, to);
  D* out = t.data<D>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    S v;
    std::memcpy(&v, src + size_t(i) * sizeof(S), sizeof(S));
    out[i] = f(v);
  }
  return t;
}

template <class S, class D>
Tensor widen(const uint8_t* src, const Shape& shape, DType to) {
  return convert<S, D>(src, shape, to, [](S v) { return D(v); });
}

Tensor converted_tensor(const TensorEntry& e, const Shape& shape, const uint8_t* src,
                        const std::string& source) {
  switch (e.dtype) {
    case FileDType::I8:
      return widen<int8_t, int32_t>(src, shape, DType::i32);
    case FileDType::I16:
      return widen<int16_t, int32_t>(src, shape, DType::i32);
    case FileDType::U16:
      return widen<uint16_t, int32_t>(src, shape, DType::i32);
    case FileDType::U32:
      return widen<uint32_t, int64_t>(src, shape, DType::i64);
    case FileDType::U64:
      return convert<uint64_t, int64_t>(src, shape, DType::i64, [&](uint64_t v) {
        if (v > uint64_t(std::numeric_limits<int64_t>::max()))
          fail(source, "tensor \"", e.name, "\": U64 value ", v,
               " does not fit int64, whet's widest integer");
        return int64_t(v);
      });
    case FileDType::F8_E4M3:
      return convert<uint8_t, float>(src, shape, DType::f32, f8_e4m3_to_float);
    case FileDType::F8_E5M2:
      return convert<uint8_t, float>(src, shape, DType::f32, f8_e5m2_to_float);
    case FileDType::F8_E8M0:
      return convert<uint8_t, float>(src, shape, DType::f32, f8_e8m0_to_float);
    default:
      fail(source, "tensor \"", e.name, "\": unsupported dtype ",
           safetensors::file_dtype_name(e.dtype),
           " (whet has no such type; F4, F6_E2M3, F6_E3M2 and C64 cannot be loaded)");
  }
}

Tensor load_tensor(const TensorEntry& e, const std::shared_ptr<MappedFile>& file,
                   const uint8_t* buffer, const std::string& source) {
  Shape shape(e.shape.begin(), e.shape.end());
  const uint8_t* src = buffer + e.begin;
  size_t nbytes = size_t(e.end - e.begin);
  DType dt;
  if (!direct_dtype(e.dtype, &dt)) return converted_tensor(e, shape, src, source);
  if (nbytes == 0) return Tensor::empty(shape, dt);  // nothing worth keeping the file for

  bool aligned = reinterpret_cast<uintptr_t>(src) % dtype_size(dt) == 0;
  // A C++ bool holding a byte other than 0 or 1 is undefined behaviour to read.
  bool clean =
      dt != DType::boolean || std::all_of(src, src + nbytes, [](uint8_t b) { return b <= 1; });
  if (aligned && clean) {
    auto impl = std::make_shared<TensorImpl>();
    // Aliasing constructor: points at the tensor's bytes, owns (a share of) the mapping.
    impl->storage.data = std::shared_ptr<void>(file, const_cast<uint8_t*>(src));
    impl->storage.nbytes = nbytes;
    impl->storage.device = Device::cpu();
    impl->shape = std::move(shape);
    impl->dtype = dt;
    return Tensor(std::move(impl));
  }
  Tensor t = Tensor::empty(shape, dt);
  if (dt == DType::boolean) {
    bool* out = t.data<bool>();
    for (size_t i = 0; i < nbytes; ++i) out[i] = src[i] != 0;
  } else {
    std::memcpy(t.raw_data(), src, nbytes);
  }
  return t;
}

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void check_utf8(const std::string& s, const char* what, const std::string& source) {
  size_t bad = safetensors::utf8_error_offset(s.data(), s.size());
  if (bad != s.size())
    fail(source, what, " is not valid UTF-8 (bad byte at offset ", bad, "), which JSON requires");
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string source = "load_safetensors: " + path;
  std::shared_ptr<MappedFile> file;
  try {
    file = MappedFile::open(path);
  } catch (const Error& e) {
    throw Error(std::string("load_safetensors: ") + e.what());
  }
  const uint64_t size = file->size();
  if (size < 8) fail(source, "file is ", size, " bytes, too short for the 8-byte header length");
  const uint64_t n = read_le_u64(file->data());
  if (n > safetensors::kMaxHeaderBytes)
    fail(source, "header length ", n, " is above the ", safetensors::kMaxHeaderBytes,
         "-byte limit");
  if (n > size - 8)
    fail(source, "header length ", n, " runs past the end of the file (", size, " bytes)");

  const char* header = reinterpret_cast<const char*>(file->data() + 8);
  safetensors::Header h = safetensors::parse_header(header, size_t(n), size - 8 - n, source);
  const uint8_t* buffer = file->data() + 8 + n;

  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  out.tensors.reserve(h.tensors.size());
  for (const TensorEntry& e : h.tensors)
    out.tensors.emplace_back(e.name, load_tensor(e, file, buffer, source));
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string source = "save_safetensors: " + path;
  for (const auto& [k, v] : metadata) {
    check_utf8(k, "a metadata key", source);
    check_utf8(v, ("metadata value of \"" + k + "\"").c_str(), source);
  }

  struct Item {
    TensorEntry entry;
    Tensor cpu;
  };
  std::vector<Item> items;
  items.reserve(tensors.size());
  std::set<std::string> seen;
  {
    NoGradGuard no_grad;  // copying to the host is not part of any graph
    for (const auto& [name, t] : tensors) {
      WHET_CHECK(t.defined(), source, ": tensor \"", name, "\" is undefined");
      WHET_CHECK(name != "__metadata__", source,
                 ": a tensor may not be named \"__metadata__\""
                 " (the key is reserved for the metadata object)");
      check_utf8(name, "a tensor name", source);
      WHET_CHECK(seen.insert(name).second, source, ": duplicate tensor name \"", name, "\"");
      Item it;
      it.entry.name = name;
      it.entry.dtype = file_dtype_of(t.dtype());
      it.entry.shape = t.shape();
      it.cpu = t.device().is_cpu() ? t : t.detach().to(Device::cpu());
      items.push_back(std::move(it));
    }
  }
  // The reference's layout order: descending dtype (its enum order), then name.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.entry.dtype != b.entry.dtype) return a.entry.dtype > b.entry.dtype;
    return a.entry.name < b.entry.name;
  });
  std::vector<TensorEntry> entries;
  entries.reserve(items.size());
  uint64_t offset = 0;
  for (Item& it : items) {
    it.entry.begin = offset;
    offset += it.cpu.nbytes();
    it.entry.end = offset;
    entries.push_back(it.entry);
  }
  const std::string header = safetensors::write_header(entries, metadata);
  WHET_CHECK(header.size() <= safetensors::kMaxHeaderBytes, source, ": header would be ",
             header.size(), " bytes, above the ", safetensors::kMaxHeaderBytes,
             "-byte limit that readers enforce");

  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  AtomicFileWriter w(path, "save_safetensors");
  w.write(len, sizeof len);
  w.write(header.data(), header.size());
  for (const Item& it : items) w.write(it.cpu.raw_data(), it.cpu.nbytes());
  w.commit();
}

}  // namespace whet::io
