#include "train/setup.h"

#include <cmath>
#include <set>
#include <sstream>

#include "core/backend.h"
#include "core/op_registry.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "data/photometric.h"
#include "nn/freeze.h"
#include "models/timm_names.h"
#include "nn/layers.h"
#include "train/checkpoint.h"
#include "train/model_settings.h"
#include "train/param_groups.h"

namespace whet::train {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// "a, b, c" of at most `limit` names, with the rest counted.
std::string some(const std::vector<std::string>& names, size_t limit = 4) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return out;
}

void check_globs_match(const models::Classifier& m, const std::vector<std::string>& globs,
                       const char* flag) {
  nn::NamedTensors params = m.named_parameters();
  for (const std::string& g : globs) {
    bool hit = false;
    for (const auto& np : params) hit = hit || nn::glob_match(g, np.first);
    if (hit) continue;
    std::vector<std::string> examples;
    for (size_t i = 0; i < params.size(); i += std::max<size_t>(1, params.size() / 4))
      examples.push_back(params[i].first);
    WHET_FAIL(flag, " '", g, "': matches no parameter of ", m.type_name(), " (names look like ",
              some(examples), "; `whet inspect --model NAME` lists them)");
  }
}

}  // namespace

Device runnable_device(const std::string& value, const std::string& flag) {
  const Device d = [&] {
    try {
      return Device::parse(resolve_device(value));
    } catch (const Error&) {
      WHET_FAIL(flag, " '", value, "': expected cpu, cuda, cuda:N or auto");
    }
  }();
  if (!d.is_cuda()) return d;
  WHET_CHECK(cuda_compiled(), flag, " ", value,
             ": this whet was built without CUDA (WHET_CUDA=OFF or no CUDA toolkit found); "
             "use ", flag, " cpu");
  const int n = cuda_device_count();
  WHET_CHECK(n > 0, flag, " ", value, ": no CUDA device is visible");
  WHET_CHECK(d.index < n, flag, " ", value, ": only ", n, " CUDA device(s) visible");
  const std::vector<std::string> missing = ops_without_cuda_kernel();
  WHET_CHECK(missing.empty(), flag, " ", value, ": the CUDA backend of this build has no ",
             "kernel for ", some(missing, 64),
             " (see `whet ops`; convolution needs cuDNN at build time); use ", flag, " cpu");
  return d;
}

void check_runnable(const TrainConfig& c) {
  check_precision_device(c.precision, runnable_device(c.device));
}

void check_precision_device(const std::string& precision, const Device& device) {
  WHET_CHECK(precision != "tf32" || device.is_cuda(),
             "--precision tf32 needs --device cuda; the CPU computes float32 exactly (use "
             "--precision fp32, or bf16 / fp16 for mixed precision on the CPU)");
}

std::vector<std::string> ops_without_cuda_kernel() {
  std::vector<std::string> missing;
  const Backend* cuda = cuda_backend();
  for (const OpInfo& op : op_registry())
    if (cuda == nullptr || !op.has_kernel(*cuda)) missing.push_back(op.name);
  return missing;
}

std::string resolve_device(const std::string& device) {
  if (device != "auto") return device;
  return cuda_device_count() > 0 && ops_without_cuda_kernel().empty() ? "cuda" : "cpu";
}

PrecisionPolicy precision_policy(const std::string& precision) {
  PrecisionPolicy p;
  if (precision == "fp16" || precision == "bf16") {
    p.autocast = true;
    p.dtype = precision == "fp16" ? DType::f16 : DType::bf16;
    p.loss_scaling = precision == "fp16";  // bfloat16 keeps float32's exponent range
  } else {
    WHET_CHECK(precision == "fp32" || precision == "tf32", "--precision '", precision,
               "': expected fp32, tf32, fp16 or bf16");
    p.tf32 = precision == "tf32";
  }
  return p;
}

int64_t model_channels(const TrainConfig& c) {
  if (c.in_channels > 0) return c.in_channels;
  const models::ModelInfo* info = models::find_model(c.model);
  WHET_CHECK(info != nullptr, "unknown model '", c.model, "'");
  return info->default_input[2];
}

int64_t model_image_size(const TrainConfig& c) {
  if (c.image_size > 0) return c.image_size;
  const models::ModelInfo* info = models::find_model(c.model);
  WHET_CHECK(info != nullptr, "unknown model '", c.model, "'");
  return info->default_input[0];
}

int64_t decode_min_side(const TrainConfig& c) {
  const int64_t size = model_image_size(c);
  // RandomResizedCrop's smallest crop covers 8% of the area, sqrt(0.08) of each side: the
  // image needs size / sqrt(0.08) pixels on its shorter side for that crop to be size wide.
  if (c.augment == "imagenet") return int64_t(std::ceil(double(size) / std::sqrt(0.08)));
  return size;
}

data::TrainVal open_run_data(const TrainConfig& c) {
  const int64_t channels = model_channels(c);
  WHET_CHECK(channels == 1 || channels == 3, "--in-channels ", channels,
             ": the image pipeline feeds 1 (gray) or 3 (RGB) channels");
  data::DataOptions o;
  o.channels = int(channels);
  o.strict = c.strict_data;
  o.min_side = c.fast_decode ? decode_min_side(c) : 0;
  o.val_fraction = c.val_fraction;
  o.seed = uint64_t(c.seed);
  o.classes = c.classes;
  o.per_class = c.per_class;
  o.load_tensors = [](const std::string& path) {
    io::SafetensorsFile f = io::load_safetensors(path);
    return data::TensorFile{f.tensors, f.metadata};
  };
  data::TrainVal d = data::open_data(c.data, o);
  WHET_CHECK(d.train && d.train->size() > 0, "--data ", c.data, ": the training set is empty");
  const int64_t k = d.train->num_classes();
  WHET_CHECK(k >= 2, "--data ", c.data, ": ", d.train->describe(), " has ", k,
             " class; classification needs at least 2");
  WHET_CHECK(c.num_classes == 0 || c.num_classes == k, "--num-classes ", c.num_classes,
             " disagrees with the data: ", d.train->describe(), " has ", k, " classes",
             c.classes.empty() ? "" : " after --classes",
             " (leave --num-classes out to take the data's)");
  if (d.val) {
    WHET_CHECK(d.val->size() > 0, "--data ", c.data, ": the validation set is empty");
    WHET_CHECK(d.val->class_names() == d.train->class_names(), "--data ", c.data,
               ": the validation classes (", some(d.val->class_names()),
               ") differ from the training classes (", some(d.train->class_names()), ")");
  }
  return d;
}

namespace {

// --color-jitter before the normalisation (on [0, 1] values), --random-erase after it (0 is
// then the dataset mean); without them the preset is returned as it is.
data::TransformPtr with_extras(std::shared_ptr<data::Compose> preset, const TrainConfig& c) {
  if (c.color_jitter == 0 && c.random_erase == 0) return preset;
  std::vector<data::TransformPtr> steps;
  for (const data::TransformPtr& t : preset->steps()) {
    const bool normalize = dynamic_cast<const data::Normalize*>(t.get()) != nullptr;
    if (normalize && c.color_jitter > 0)
      steps.push_back(std::make_shared<data::ColorJitter>(c.color_jitter, c.color_jitter, c.color_jitter));
    steps.push_back(t);
    if (normalize && c.random_erase > 0)
      steps.push_back(std::make_shared<data::RandomErasing>(c.random_erase));
  }
  return std::make_shared<data::Compose>(std::move(steps));
}

}  // namespace

data::TransformPtr train_transform_for(const TrainConfig& c) {
  const int64_t size = model_image_size(c);
  const int channels = int(model_channels(c));
  if (c.augment == "imagenet") return with_extras(data::train_transform(size, channels), c);
  std::vector<data::TransformPtr> steps = {std::make_shared<data::Resize>(size),
                                           std::make_shared<data::CenterCrop>(size)};
  if (c.augment == "crop") steps.push_back(std::make_shared<data::RandomCrop>(size, 4));
  if (c.augment == "crop" || c.augment == "flip")
    steps.push_back(std::make_shared<data::RandomHorizontalFlip>());
  steps.push_back(std::make_shared<data::ToFloat>());
  steps.push_back(std::make_shared<data::ToChannels>(channels));
  steps.push_back(std::make_shared<data::Normalize>(
      channels == 3 ? data::Normalize::imagenet() : data::Normalize::imagenet_gray()));
  return with_extras(std::make_shared<data::Compose>(std::move(steps)), c);
}

data::TransformPtr eval_transform_for(const TrainConfig& c) {
  const int64_t size = model_image_size(c);
  const int channels = int(model_channels(c));
  if (c.augment == "imagenet") return data::eval_transform(size, channels);
  TrainConfig plain = c;
  plain.augment = "none";
  plain.color_jitter = plain.random_erase = 0;
  return train_transform_for(plain);
}

namespace {

// --freeze-stages N: the parameters of the first N stages (train/param_groups.h) and, as
// mmcv's frozen_stages does, their BatchNorm statistics: a frozen stage computes the same
// features in training as in evaluation.
void freeze_stages(models::Classifier& m, const TrainConfig& c) {
  const std::vector<std::string> stages = model_stages(m);
  std::vector<std::string> names;
  for (const std::string& s : stages) names.push_back(stage_name(s));
  WHET_CHECK(size_t(c.freeze_stages) <= stages.size(), "--freeze-stages ", c.freeze_stages, ": ",
             c.model, " has ", stages.size(), " stages below its head (",
             some(names, 24), ")");
  std::vector<std::string> prefixes;
  for (int64_t s = 0; s < c.freeze_stages; ++s) {
    std::istringstream parts(stages[size_t(s)]);
    for (std::string p; std::getline(parts, p, '|');) prefixes.push_back(p);
  }
  for (const std::string& p : prefixes) nn::freeze_matching(m, {p + "*"});
  for (auto& [path, mod] : m.named_modules()) {
    auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod);
    for (const std::string& p : prefixes)
      if (bn && (path + ".").compare(0, p.size(), p) == 0) bn->set_frozen(true);
  }
}

}  // namespace

void apply_freezing(models::Classifier& m, const TrainConfig& c) {
  check_globs_match(m, c.freeze, "--freeze");
  check_globs_match(m, c.unfreeze, "--unfreeze");
  std::set<std::string> types;
  for (const auto& [path, mod] : m.named_modules())
    if (!mod->named_parameters(false).empty()) types.insert(mod->type_name());
  for (const std::string& t : c.freeze_type) {
    if (types.count(t)) continue;
    WHET_FAIL("--freeze-type ", t, ": ", c.model, " has no module of that type with parameters (",
              some({types.begin(), types.end()}, 16), ")");
  }
  nn::freeze_matching(m, c.freeze);
  for (const std::string& t : c.freeze_type) nn::freeze_type(m, t);
  if (c.freeze_stages > 0) freeze_stages(m, c);
  nn::unfreeze_matching(m, c.unfreeze);
  if (c.freeze_bn) nn::freeze_batchnorm(m);
}

models::ImportedWeights read_pretrained(TrainConfig& c) {
  nn::NamedTensors sd = checkpoint_weights(c.weights);
  models::ImportedWeights w;
  try {
    w = models::import_weights(c.model, std::move(sd));
  } catch (const Error& e) {
    throw Error("--weights " + c.weights + ": " + e.what());
  }
  if (c.bn_eps == 0) c.bn_eps = w.bn_eps;
  if (c.bn_momentum == 0) c.bn_momentum = w.bn_momentum;
  if (c.width_rule.empty() && w.width_rule != models::WidthRule::torchvision)
    c.width_rule = models::width_rule_name(w.width_rule);
  return w;
}

models::ClassifierPtr build_model(const TrainConfig& c, int64_t num_classes,
                                  const models::ImportedWeights* weights,
                                  std::vector<std::string>& log) {
  const bool pretrained = weights != nullptr;
  const int64_t native = models::find_model(c.model)->default_input[2];
  // Pretrained weights fit the native stem; another channel count adapts it afterwards.
  const bool adapt_after = pretrained && c.in_channels > 0 && c.in_channels != native;
  models::ModelOptions o;
  o.num_classes = num_classes;
  o.in_channels = adapt_after ? 0 : c.in_channels;
  o.dropout = c.drop_rate;
  o.drop_path = c.drop_path;
  apply_model_settings(c, o);
  models::ClassifierPtr m = models::create_model(c.model, o);

  if (pretrained) {
    nn::LoadResult r = io::load_pytorch_state_dict(*m, weights->tensors, /*strict=*/false);
    const std::string head = m->head_prefix();
    auto outside_head = [&](const std::vector<std::string>& keys) {
      std::vector<std::string> out;
      for (const auto& k : keys)
        if (!starts_with(k, head)) out.push_back(k);
      return out;
    };
    auto missing = outside_head(r.missing), unexpected = outside_head(r.unexpected),
         mismatched = outside_head(r.shape_mismatch);
    if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
      std::string why;
      if (!missing.empty()) why += "\n  missing from the file: " + some(missing);
      if (!unexpected.empty()) why += "\n  not in " + c.model + ": " + some(unexpected);
      if (!mismatched.empty()) why += "\n  of another shape: " + some(mismatched);
      WHET_FAIL("--weights ", c.weights, " does not fit ", c.model,
                " (is it a checkpoint of "
                "another architecture?):",
                why);
    }
    if (c.reset_head) m->reset_classifier(num_classes);
    const bool head_loaded = r.ok() && !c.reset_head;
    std::string from;
    if (!weights->source.empty()) {
      char bn[96] = "";
      if (weights->bn_eps > 0)
        std::snprintf(bn, sizeof bn, "; BatchNorm eps %g, momentum %g as %s's", c.bn_eps,
                      c.bn_momentum, weights->source.c_str());
      from = " (" + weights->source + "'s names, translated" + bn + ")";
    }
    log.push_back("weights: " + c.weights + " loaded" + from +
                  (head_loaded ? ""
                               : "; head " + head + " newly initialised for " +
                                     std::to_string(num_classes) + " classes"));
  }
  if (adapt_after) {
    models::adapt_input_channels(*m, c.in_channels);
    log.push_back("stem " + m->stem_prefix() + " adapted to " + std::to_string(c.in_channels) +
                  " input channels");
  }
  apply_freezing(*m, c);
  return m;
}

}  // namespace whet::train
