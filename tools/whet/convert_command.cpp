// `whet convert IN OUT`: a state dict from a PyTorch .pth/.pt (or a safetensors file) written
// as safetensors with the same names, dtypes and PyTorch layouts: a faithful conversion that
// torchvision's load_state_dict and safetensors.torch.load_file accept unchanged.
// `--model NAME` also translates timm's names to torchvision's for that model
// (models/timm_names.h), recording timm's BatchNorm settings and width rule in the metadata
// (bn_eps, bn_momentum, width_rule) where they differ from torchvision's, as `whet train
// --save` does (train/model_settings.h).
#include <iostream>
#include <map>
#include <memory>

#include "core/error.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "models/registry.h"
#include "models/timm_names.h"
#include "tools/whet/commands.h"
#include "train/model_settings.h"

namespace whet::cli {

namespace {

int convert(const std::string& in, const std::string& out, const std::string& model) {
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
  std::string translated;
  if (!model.empty()) {
    WHET_CHECK(models::find_model(model), "--model ", model, ": unknown (see `whet models`)");
    models::ImportedWeights w;
    try {
      w = models::import_weights(model, std::move(tensors));
    } catch (const Error& e) {
      throw Error(in + ": " + e.what());
    }
    tensors = std::move(w.tensors);
    if (!w.source.empty())
      translated = "  " + w.source + "'s names translated to " + model + "'s\n";
    models::ModelOptions settings;
    settings.bn_eps = w.bn_eps;
    settings.bn_momentum = w.bn_momentum;
    settings.width_rule = w.width_rule;
    train::put_model_settings(settings, metadata);
  }
  io::save_safetensors(out, tensors, metadata);

  size_t bytes = 0;
  std::map<std::string, size_t> per_dtype;
  for (const auto& [name, t] : tensors) {
    bytes += t.nbytes();
    ++per_dtype[dtype_name(t.dtype())];
  }
  std::cout << "converted " << in << " -> " << out << "\n"
            << translated << "  " << tensors.size() << " tensors, " << bytes
            << " bytes of tensor data";
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
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>(),
       model = std::make_shared<std::string>();
  cmd->add_option("input", *in, "State dict to read (.pth/.pt from torch.save, or safetensors)")
      ->required();
  cmd->add_option("output", *out, "Safetensors file to write (replaced atomically)")->required();
  cmd->add_option("--model", *model,
                  "Translate timm's names to this model's torchvision names (e.g. "
                  "mobilenet_v3_large for timm's mobilenetv3_large_100)");
  cmd->callback(
      [in, out, model] { set_action([in, out, model] { return convert(*in, *out, *model); }); });
}

}  // namespace whet::cli
