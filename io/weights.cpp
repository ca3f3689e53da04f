// Weight files <-> modules. Files always hold PyTorch's names and layouts; the only layout
// whet changes is the conv weight's (OIHW in files, OHWI in whet), converted here and nowhere
// else.
#include "io/weights.h"

#include "core/autograd.h"
#include "io/pth.h"
#include "io/safetensors.h"

namespace whet::io {

namespace {

nn::NamedTensors permute_conv_weights(const nn::NamedTensors& sd,
                                      const std::vector<int64_t>& perm) {
  NoGradGuard no_grad;  // a layout change at the boundary, not part of any graph
  nn::NamedTensors out;
  out.reserve(sd.size());
  for (const auto& [name, t] : sd) {
    bool conv = t.defined() && t.dim() == 4 && is_floating(t.dtype());
    out.emplace_back(name, conv ? permute(t, perm) : t);
  }
  return out;
}

}  // namespace

nn::NamedTensors read_state_dict(const std::string& path) {
  if (looks_like_pth(path)) return load_pth(path);
  try {
    return load_safetensors(path).tensors;
  } catch (const Error& e) {
    // The reason is safetensors'; say why that is what was tried.
    throw Error(std::string(e.what()) +
                " (not a torch.save zip archive either: whet reads weights from safetensors "
                "and from PyTorch .pth/.pt files)");
  }
}

nn::NamedTensors from_pytorch_layout(const nn::NamedTensors& sd) {
  return permute_conv_weights(sd, {0, 2, 3, 1});  // (O, I, KH, KW) -> (O, KH, KW, I)
}

nn::NamedTensors to_pytorch_layout(const nn::NamedTensors& sd) {
  return permute_conv_weights(sd, {0, 3, 1, 2});  // (O, KH, KW, I) -> (O, I, KH, KW)
}

nn::LoadResult load_pytorch_state_dict(nn::Module& m, const nn::NamedTensors& sd, bool strict) {
  // Mismatches are reported in the file's layout, the one the user can look up: every 4-D
  // tensor is permuted on the way in, so (O, KH, KW, I) is shown as (O, I, KH, KW).
  auto pytorch_shape = [](const Shape& s) {
    return shape_str(s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s);
  };
  // Module::load_state_dict converts each tensor to the dtype and device of the one it fills.
  return m.load_state_dict(from_pytorch_layout(sd), strict, pytorch_shape);
}

nn::LoadResult load_weights(nn::Module& m, const std::string& path, bool strict) {
  nn::NamedTensors sd = read_state_dict(path);
  try {
    return load_pytorch_state_dict(m, sd, strict);
  } catch (const Error& e) {
    throw Error("load_weights: " + path + ": " + e.what());
  }
}

void save_weights(const nn::Module& m, const std::string& path) {
  save_safetensors(path, to_pytorch_layout(m.state_dict()), {{"format", "pt"}});
}

}  // namespace whet::io
