// Model weights in the formats people have: safetensors and PyTorch .pth/.pt state dicts.
// Files hold PyTorch's layouts and names; whet's layouts differ only for conv weights
// (PyTorch OIHW, whet OHWI: ARCHITECTURE.md decision 2), converted here at the boundary.
#pragma once
#include <string>

#include "nn/module.h"

namespace whet::io {

// A state dict as stored (PyTorch layouts), from .safetensors or a zip-format .pth/.pt file
// (chosen by content, not extension). Throws whet::Error naming the file and the problem.
nn::NamedTensors read_state_dict(const std::string& path);

// 4-D floating tensors (conv weights) OIHW -> OHWI, and back; others pass through.
nn::NamedTensors from_pytorch_layout(const nn::NamedTensors& sd);
nn::NamedTensors to_pytorch_layout(const nn::NamedTensors& sd);

// Loads a checkpoint into a model: layout and dtype conversion; strict throws on any
// missing, unexpected or mismatched key (changing nothing); non-strict loads what matches
// and returns the report (a 1000-class checkpoint into a 10-class model keeps everything but
// the head, and the report lists the head's keys as shape mismatches).
nn::LoadResult load_weights(nn::Module& m, const std::string& path, bool strict = false);
// The same for a state dict already read (PyTorch layout): what load_weights does after
// reading. Mismatched shapes are reported in PyTorch's layout, the file's.
nn::LoadResult load_pytorch_state_dict(nn::Module& m, const nn::NamedTensors& sd, bool strict);

// Writes the model's state dict as safetensors in PyTorch's layout and names, so
// torchvision's load_state_dict accepts it. Atomic (temporary file, fsync, rename).
void save_weights(const nn::Module& m, const std::string& path);

}  // namespace whet::io
