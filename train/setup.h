// The pieces of a training run built from its configuration, each checking its inputs so
// that every mistake (an empty dataset, classes that disagree, weights of another
// architecture, a glob that matches nothing, a device this build cannot use) is reported
// before the first step, with what to change.
#pragma once
#include <string>
#include <vector>

#include "data/open.h"
#include "data/transforms.h"
#include "models/registry.h"
#include "models/timm_names.h"
#include "train/config.h"

namespace whet::train {

// Throws for what this build cannot run: CUDA devices (listing the ops that have no CUDA
// kernel yet, or saying why there is no CUDA at all) and tf32 on the CPU. The rest of the
// trainer is written for any device (Module::to, Tensor::to), so lifting a restriction here
// is all a new backend needs.
void check_runnable(const TrainConfig& c);

// The ops the CUDA backend has no kernel for (all of them in a build without CUDA).
std::vector<std::string> ops_without_cuda_kernel();
// --device auto: "cuda" when a CUDA device is visible and the backend has every kernel, else
// "cpu". Any other value is returned as it is.
std::string resolve_device(const std::string& device);
// The device a --device value (cpu, cuda, cuda:N or auto) names, checked against this build
// and machine: CUDA must be compiled in, the device visible, and every op must have a CUDA
// kernel. Throws naming `flag` and the reason. Shared by train, eval and forward.
Device runnable_device(const std::string& value, const std::string& flag = "--device");

// What --precision means for a run. fp16 and bf16: forward and loss under an AutocastGuard
// of that dtype (core/autocast.h) on any device, parameters, optimizer state and checkpoints
// in float32 (master weights); fp16 adds dynamic loss scaling (optim::GradScaler), since its
// 5-bit exponent underflows small gradients. tf32: float32 GEMM and conv on TF32 tensor cores
// (core/math_mode.h), CUDA only. fp32: none of these.
struct PrecisionPolicy {
  bool autocast = false;
  DType dtype = DType::bf16;  // autocast's dtype
  bool loss_scaling = false;
  bool tf32 = false;
};
PrecisionPolicy precision_policy(const std::string& precision);
// Throws, naming --precision, when `precision` cannot run on `device`: tf32 needs CUDA (the
// CPU computes float32 exactly). Shared by train, eval and predict.
void check_precision_device(const std::string& precision, const Device& device);

// The input channels the model reads: in_channels, else the model's own.
int64_t model_channels(const TrainConfig& c);
// The input size: image_size, else the model's default.
int64_t model_image_size(const TrainConfig& c);

// The training and validation sets (val may be null), with the class count checked against
// num_classes and between the halves.
data::TrainVal open_run_data(const TrainConfig& c);

// With --fast-decode, the shorter side JPEGs must keep when decoded at a reduced scale: enough
// for the training transform's smallest crop to be image_size wide without upscaling.
int64_t decode_min_side(const TrainConfig& c);

// The transforms of the configuration: augment = imagenet: data::train_transform and
// data::eval_transform (torchvision's recipe); crop / flip / none: Resize + CenterCrop to
// image_size in training and evaluation alike, training adding RandomCrop(image_size,
// padding 4) and a horizontal flip for crop, the flip alone for flip. All end in ToFloat,
// ToChannels(channels) and Normalize (ImageNet statistics).
data::TransformPtr train_transform_for(const TrainConfig& c);
data::TransformPtr eval_transform_for(const TrainConfig& c);

// The pretrained weights c.weights names (a whet checkpoint's model, or its weight average
// where it kept one; a safetensors or .pth state dict), named for c.model: timm's names are
// translated (models/timm_names.h). Where the weights' source normalises otherwise than
// whet's model (timm's MobileNetV3), c.bn_eps and c.bn_momentum take its values unless they
// are set, so config.toml, a resumed run and `whet eval` build the model the weights need.
models::ImportedWeights read_pretrained(TrainConfig& c);

// The model with num_classes outputs: created (seeded by the caller), with `weights` loaded
// unless null (random initialisation; a resumed run overwrites them anyway), the stem
// adapted to in_channels, and freezing applied. Weights whose non-head tensors do not all
// fit are refused, naming the mismatches; a head of another size stays freshly initialised.
// Lines describing what was done with the weights are appended to `log`.
models::ClassifierPtr build_model(const TrainConfig& c, int64_t num_classes,
                                  const models::ImportedWeights* weights,
                                  std::vector<std::string>& log);

// freeze, freeze_type, unfreeze, freeze_bn in that order. A glob that matches no parameter
// or a type no module has is an error.
void apply_freezing(models::Classifier& m, const TrainConfig& c);

}  // namespace whet::train
