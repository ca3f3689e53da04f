// PyTorch .pth/.pt state dicts, as torch.save has written them since PyTorch 1.6: a zip
// archive (io/zip_reader.h) holding `<archive>/data.pkl`, a pickle of the dict in which each
// tensor's bytes are a persistent reference to the entry `<archive>/data/<key>`, plus
// `byteorder` and `version` records. The pickle is run by a restricted machine
// (io/unpickler.h) that knows only what a state dict needs and executes nothing from the file.
//
//   NamedTensors sd = whet::io::load_pth("resnet18-f37072fd.pth");  // PyTorch layouts
//
// Accepted: a flat dict of tensors (OrderedDict or dict, as model.state_dict() and
// torchvision's downloads are), or a checkpoint dict whose "state_dict" or (failing that)
// "model" entry is one; other entries of such a checkpoint must themselves be plain data
// (numbers, strings, lists, dicts), not pickled objects. Tensors keep the file's dtype
// (float32/64, float16, bfloat16, int64, int32, uint8, bool; others are refused by name),
// shape and order. Contiguous tensors whose storage is stored uncompressed and aligned view
// the memory-mapped file (copy-on-write, never written back); strided views (a transposed or
// sliced tensor saved as such) become contiguous copies; big-endian files are byte-swapped.
// The pre-1.6 format (a bare pickle stream, or the older tar) is refused with an error that
// says how to re-save it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace whet::io {

// The same type as nn::NamedTensors (nn/module.h), spelled here so io/ needs only core/.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// True when the first bytes are those of a torch.save file: a zip archive, or the legacy
// formats (so that they reach load_pth and its advice rather than another reader).
bool looks_like_pth(const uint8_t* head, size_t n);
// The same test on a file's first bytes; false when it cannot be read (the reader that is
// then tried reports why).
bool looks_like_pth(const std::string& path);

// Throws whet::Error "load_pth: <path>: <what is wrong>" for anything it cannot read.
NamedTensors load_pth(const std::string& path);

}  // namespace whet::io
