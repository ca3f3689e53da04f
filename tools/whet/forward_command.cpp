// `whet forward`: one eval-mode forward of a model with given weights on a tensor file, the
// logits written as safetensors. For checking a checkpoint against PyTorch end to end:
//   whet forward --model resnet18 --num-classes 10 --weights w.safetensors
//                --input in.safetensors --output out.safetensors
// reads tensor `input` (N, H, W, C) float32 and writes `logits` (N, K) float32.
#include <iostream>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "models/registry.h"
#include "models/timm_names.h"
#include "tools/whet/commands.h"
#include "train/setup.h"

namespace whet::cli {

namespace {
struct ForwardArgs {
  std::string model, weights, input, output, device = "cpu", precision = "fp32";
  int64_t num_classes = 1000;
  double width_mult = 1.0;
};

int run_forward(const ForwardArgs& a) {
  const Device device = train::runnable_device(a.device);  // before any work: refuse early
  const models::ImportedWeights w = models::import_weights(a.model, io::read_state_dict(a.weights));
  models::ModelOptions o;
  o.num_classes = a.num_classes;
  o.width_mult = a.width_mult;
  o.init_weights = false;  // the strict load below overwrites every weight
  o.bn_eps = w.bn_eps;     // timm's MobileNetV3 normalises as timm does
  o.bn_momentum = w.bn_momentum;
  o.width_rule = w.width_rule;  // and scales its widths as timm does
  models::ClassifierPtr m = models::create_model(a.model, o);
  try {
    io::load_pytorch_state_dict(*m, w.tensors, /*strict=*/true);
  } catch (const Error& e) {
    throw Error(a.weights + ": " + e.what());
  }

  io::SafetensorsFile in = io::load_safetensors(a.input);
  Tensor x;
  for (auto& [name, t] : in.tensors)
    if (name == "input") x = t;
  WHET_CHECK(x.defined(), a.input, ": no tensor named 'input'");
  WHET_CHECK(x.dim() == 4 && x.dtype() == DType::f32, a.input,
             ": 'input' must be float32 (N, H, W, C), got ", dtype_name(x.dtype()), " ",
             shape_str(x.shape()));
  WHET_CHECK(x.size(3) == m->in_channels(), a.input, ": 'input' has ", x.size(3),
             " channels, the model's stem reads ", m->in_channels());

  const DType dtype = a.precision == "fp16"   ? DType::f16
                      : a.precision == "bf16" ? DType::bf16
                                              : DType::f32;
  m->to(device);
  m->to(dtype);
  m->eval();
  NoGradGuard no_grad;
  Tensor logits = m->forward(x.to(device, dtype)).to(Device::cpu(), DType::f32);
  io::save_safetensors(a.output, {{"logits", logits}},
                       {{"model", a.model}, {"weights", a.weights}, {"precision", a.precision}});
  std::cout << "logits " << shape_str(logits.shape()) << " -> " << a.output << "\n";
  return 0;
}
}  // namespace

void add_forward_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "forward", "Run a model (eval mode) on tensor `input` of a safetensors file, write `logits`");
  auto a = std::make_shared<ForwardArgs>();
  cmd->add_option("--model", a->model, "Model name (see `whet models`)")->required();
  cmd->add_option("--num-classes", a->num_classes, "Classes of the head")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--width-mult", a->width_mult, "MobileNets' width multiplier (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--weights", a->weights, "Weights (.safetensors or .pth), loaded strictly")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--input", a->input, "safetensors file with `input` (N, H, W, C) float32")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--output", a->output, "safetensors file to write `logits` (N, K) float32")
      ->required();
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto");
  cmd->add_option("--precision", a->precision,
                  "fp32, or fp16 / bf16: the whole model and input cast to that dtype")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  cmd->callback([a] { set_action([a] { return run_forward(*a); }); });
}

}  // namespace whet::cli
