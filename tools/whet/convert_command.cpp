// `whet convert IN OUT`: a state dict from a PyTorch .pth/.pt (or a safetensors file) written
// as safetensors with the same names, dtypes and PyTorch layouts: a faithful conversion that
// torchvision's load_state_dict and safetensors.torch.load_file accept unchanged.
#include <iostream>
#include <map>
#include <memory>

#include "io/pth.h"
#include "io/safetensors.h"
#include "tools/whet/commands.h"

namespace whet::cli {

namespace {

int convert(const std::string& in, const std::string& out) {
  io::NamedTensors tensors;
  std::map<std::string, std::string> metadata;
  if (io::looks_like_pth(in)) {
    tensors = io::load_pth(in);
    metadata["format"] = "pt";  // what safetensors.torch and transformers mark torch files with
  } else {
    io::SafetensorsFile f = io::load_safetensors(in);
    tensors = std::move(f.tensors);
    metadata = std::move(f.metadata);
  }
  io::save_safetensors(out, tensors, metadata);

  size_t bytes = 0;
  std::map<std::string, size_t> per_dtype;
  for (const auto& [name, t] : tensors) {
    bytes += t.nbytes();
    ++per_dtype[dtype_name(t.dtype())];
  }
  std::cout << "converted " << in << " -> " << out << "\n"
            << "  " << tensors.size() << " tensors, " << bytes << " bytes of tensor data";
  const char* sep = " (";
  for (const auto& [dt, n] : per_dtype) {
    std::cout << sep << dt << ": " << n;
    sep = ", ";
  }
  std::cout << (per_dtype.empty() ? "" : ")") << "\n";
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "convert", "Convert a PyTorch .pth/.pt state dict (or safetensors) to safetensors");
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>();
  cmd->add_option("input", *in, "State dict to read (.pth/.pt from torch.save, or safetensors)")
      ->required();
  cmd->add_option("output", *out, "Safetensors file to write (replaced atomically)")->required();
  cmd->callback([in, out] { set_action([in, out] { return convert(*in, *out); }); });
}

}  // namespace whet::cli
