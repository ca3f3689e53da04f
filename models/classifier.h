// models::Classifier: what every image classifier of the zoo shares — a stem convolution that
// reads the image and a Linear head that writes the logits — and the operations on them that
// fine-tuning needs: swapping the head for a new number of classes (timm's reset_classifier)
// and adapting the stem to another number of input channels (timm's adapt_input_conv).
//
// Model forwards look their children up by name at call time (call_child) instead of caching
// member pointers, so a child replaced through replace_child — a new head, an adapted stem,
// the shape recorder of models/summary.h — always takes effect.
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"

namespace whet::models {

// How width_mult scales a MobileNetV3 (models/mobilenet_v3.h). The two rules agree at width 1.
//   torchvision: every width of the block table multiplied and rounded to a multiple of 8.
//   timm: each block's expansion is its ratio times the block's (rounded) input width, the
//         stem stays 16 below width 0.75, and the head keeps 1024 (small) / 1280 (large)
//         features: timm's mobilenetv3_small_050, _small_075, _large_075.
enum class WidthRule { torchvision, timm };
const char* width_rule_name(WidthRule r);
// "torchvision" or "timm"; anything else throws whet::Error naming `what` (a flag or key).
WidthRule parse_width_rule(const std::string& s, const std::string& what);

// How to build a model of the zoo (each constructor and models::create_model take these).
struct ModelOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 0;                        // 0: the model's own (3; small_cnn 1)
  double width_mult = 1.0;                        // MobileNets only; others refuse any other value
  WidthRule width_rule = WidthRule::torchvision;  // MobileNetV3 only; others refuse timm
  // Dropout before the head's last Linear; negative: the model's own (MobileNets' 0.2,
  // none for ResNets; timm's drop_rate). small_cnn has none and refuses a positive value.
  double dropout = -1;
  // Stochastic depth over the residual blocks, 0 to this rate from the first block to the
  // last (models/residual.h; timm's drop_path_rate).
  double drop_path = 0;
  // Every BatchNorm2d's eps and momentum, where positive; 0: the model's own (torchvision's
  // MobileNetV3 1e-3 and 0.01, others 1e-5 and 0.1). timm's MobileNetV3 weights want 1e-5 and
  // 0.1 (models/timm_names.h).
  double bn_eps = 0, bn_momentum = 0;
  // false skips torchvision's initialisation (kaiming-normal convs, ...), leaving PyTorch's
  // layer defaults: for a model whose weights a checkpoint is about to overwrite, or that is
  // only inspected, it saves the normal draws that dominate construction time.
  bool init_weights = true;

  int64_t channels_or(int64_t own) const { return in_channels > 0 ? in_channels : own; }
};

class Classifier : public nn::Module {
 public:
  using nn::Module::Module;

  // Dotted path of the head Linear with a trailing dot: "fc.", "classifier.1.", ...
  // (the prefix of the head's parameter names, what a freeze glob or a checkpoint filter wants).
  virtual std::string head_prefix() const = 0;
  // Dotted path of the stem Conv2d with a trailing dot: "conv1.", "features.0.0.".
  virtual std::string stem_prefix() const = 0;

  nn::Linear& head() const;
  nn::Conv2d& stem() const;
  int64_t num_classes() const { return head().out_features; }
  int64_t num_features() const { return head().in_features; }  // the head's input width
  int64_t in_channels() const { return stem().spec.in_channels; }

  // Replaces the head by a fresh Linear(num_features, num_classes), initialised as PyTorch
  // initialises a new nn.Linear (U(-1/sqrt(in), 1/sqrt(in)) for weight and bias), on the old
  // head's device and dtype. The rest of the model is untouched.
  void reset_classifier(int64_t num_classes);
};

using ClassifierPtr = std::shared_ptr<Classifier>;

// Replaces the stem convolution by one reading `channels` input channels, keeping what the
// current weights learnt (run it after loading pretrained weights; on a fresh model it simply
// reshapes the random stem). As timm's adapt_input_conv, generalised from I = 3 to any I:
//   channels == 1:  w'[o, :, :, 0] = sum_i w[o, :, :, i]     (grayscale = sum of RGB filters)
//   otherwise:      w'[o, :, :, j] = w[o, :, :, j mod I] * I / channels
// The sum keeps a grayscale image's response equal to that of the same image replicated to
// RGB; the repeat keeps the filters' overall scale (exactly, for a constant image, when
// channels is a multiple of I). Bias, options, device, dtype and requires_grad carry over.
// A no-op when the stem already reads `channels`.
void adapt_input_channels(Classifier& model, int64_t channels);

// Runs m's child `name` on x.
Tensor call_child(const nn::Module& m, const std::string& name, const Tensor& x);

// torchvision's initialisation of its CNNs: every Conv2d kaiming_normal_(mode="fan_out",
// nonlinearity="relu") with zero bias, every BatchNorm2d weight 1 and bias 0; Linear layers
// keep PyTorch's default unless `linear_std` > 0, which gives weight N(0, linear_std^2) and
// bias 0 (MobileNets use 0.01).
void init_torchvision_(nn::Module& m, double linear_std = 0.0);

}  // namespace whet::models
