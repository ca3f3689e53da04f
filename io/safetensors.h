// Reading and writing safetensors files (huggingface/safetensors), to the letter of the
// reference implementation: the reader validates every header field and the exact tiling of
// the data buffer; the writer produces the bytes the reference serializer produces for the
// same tensors, so files interoperate with safetensors.torch / safetensors.numpy unchanged.
//
//   auto f = whet::io::load_safetensors("resnet18.safetensors");   // mmap, no copy
//   whet::io::save_safetensors("out.safetensors", model.state_dict(), {{"format", "pt"}});
//
// Element types. F32, F64, F16, BF16, I64, I32, U8 and BOOL load as the whet dtype of the
// same name. The others convert exactly to a wider whet type: I8, I16, U16 to int32; U32 to
// int64; U64 to int64 (an error if a value exceeds INT64_MAX); F8_E4M3, F8_E5M2, F8_E8M0 to
// float32. F4, F6_E2M3, F6_E3M2 and C64 are rejected as unsupported, naming the tensor.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace whet::io {

// The same type as nn::NamedTensors (nn/module.h), spelled here so io/ needs only core/.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  // In file order (sorted by data offset). Tensors whose bytes are aligned for their type and
  // need no conversion are views of the memory-mapped file: they share ownership of the
  // mapping, so they stay valid after this object (and even the file on disk) is gone. The
  // mapping is private copy-on-write: writing to a loaded tensor never changes the file.
  // Misaligned data (a header length that is not a multiple of 8), BOOL bytes other than 0/1,
  // converted dtypes and empty tensors are copies.
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;  // the header's "__metadata__"
};

// Throws whet::Error naming the file and the problem for anything the reference reader
// rejects (short file, header length past the end or above 100 MB, bad UTF-8 or JSON, a
// header that is not an object, unknown dtype, missing or ill-typed fields, byte sizes that
// overflow or disagree with the offsets, overlapping, gapped or out-of-range tensors, trailing
// bytes, a non-string metadata value), and for duplicate keys, which it silently accepts.
SafetensorsFile load_safetensors(const std::string& path);

// Writes as the reference serializer does: tensors laid out by descending dtype alignment
// then by name, header JSON compact and padded with spaces to a multiple of 8 bytes, data
// little-endian. Metadata keys come out sorted (the reference writes its HashMap in arbitrary
// order); empty metadata writes no "__metadata__" entry, as metadata=None does. Tensors on
// another device are copied to the CPU first. The write is atomic (temporary file beside the
// target, fsync, rename); errors (unwritable directory, disk full, a duplicate or reserved
// "__metadata__" name, an undefined tensor) throw whet::Error naming the path and leave
// neither a partial file nor the temporary file behind.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace whet::io
