// The safetensors header: its element types and its JSON, read and validated as the reference
// implementation (huggingface/safetensors, safetensors/src/tensor.rs) does, and written byte
// for byte as its serializer writes it. io/safetensors.h builds tensors on top of this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace whet::io::safetensors {

// Every dtype the format defines, in the reference's declaration order. That order matters:
// the writer lays tensors out by descending dtype (then by name), which is what keeps every
// tensor aligned for its element type when the header length is a multiple of 8.
enum class FileDType : uint8_t {
  BOOL,
  F4,
  F6_E2M3,
  F6_E3M2,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  C64,
  F64,
  I64,
  U64
};

const char* file_dtype_name(FileDType t);  // "F32"
// False when `name` is not a dtype of the format.
bool parse_file_dtype(const std::string& name, FileDType* out);
size_t file_dtype_bits(FileDType t);  // bits per element: 4 for F4, 64 for C64, ...

struct TensorEntry {
  std::string name;
  FileDType dtype = FileDType::F32;
  std::vector<int64_t> shape;   // each extent, and their running product, fit in int64
  uint64_t begin = 0, end = 0;  // byte range in the data buffer (after the header)
};

struct Header {
  std::vector<TensorEntry> tensors;  // sorted by data_offsets, i.e. in file order
  std::map<std::string, std::string> metadata;
};

// The reference reader's limit on the header length.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Parses the `n` header bytes at `json` and validates them against a data buffer of
// `data_bytes` bytes: UTF-8, JSON object, no duplicate keys, every entry's fields and dtype,
// byte sizes without overflow, and tensors that exactly tile [0, data_bytes). Throws
// whet::Error "`source`: <what is wrong>" on the first problem.
Header parse_header(const char* json, size_t n, uint64_t data_bytes, const std::string& source);

// The header as the reference serializer writes it for `tensors` (already in layout order,
// offsets filled in): compact JSON, "__metadata__" first when there is any, then each tensor
// as {"dtype","shape","data_offsets"}; padded with spaces to a multiple of 8 bytes.
std::string write_header(const std::vector<TensorEntry>& tensors,
                         const std::map<std::string, std::string>& metadata);

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as Rust's
// str::from_utf8 accepts. Returns the offset of the first bad byte, or n when all is valid.
size_t utf8_error_offset(const char* s, size_t n);

}  // namespace whet::io::safetensors
