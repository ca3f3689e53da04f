// Pretrained weights from timm (pytorch-image-models) for the models whet builds with
// torchvision's names. timm's ResNets (resnet18, resnet50.a1_in1k, ...) already use
// torchvision's names and layers. Its MobileNets (mobilenetv2_100, mobilenetv3_large_100,
// mobilenetv3_small_100) are torchvision's networks under other names:
//   conv_stem, bn1                  -> features.0.0, features.0.1
//   blocks.S.J.<layer>              -> features.F.<torchvision's path>, F = 1, 2, ... over the
//                                      blocks in (S, J) order; the layers within a block map
//                                      by their role (expand, depthwise, SE, projection)
//   conv_head, bn2 (V2)             -> features.<last>.0, features.<last>.1
//   conv_head (V3, a 1x1 conv with bias on pooled features) -> classifier.0 (the same values
//                                      as a Linear)
//   classifier                      -> classifier.1 (V2), classifier.3 (V3)
// timm's MobileNetV3 also normalises with BatchNorm eps 1e-5 and momentum 0.1 where
// torchvision's uses 1e-3 and 0.01, and scales its widths by timm's rule (mobilenetv3_small_050
// and _075, mobilenetv3_large_075 differ from torchvision's at those widths); a model built
// with timm's values computes what timm computes (ModelOptions::bn_eps, bn_momentum,
// width_rule). The width multiplier itself is not in the weights: it is the user's to give.
// Not covered: timm's tf_* ports (TensorFlow "SAME" padding, same names) and other
// architectures (EfficientNet, ResNet-D): their keys stay unmatched and loading names them.
#pragma once
#include <string>

#include "models/classifier.h"
#include "nn/module.h"

namespace whet::models {

struct ImportedWeights {
  nn::NamedTensors tensors;  // torchvision's names, PyTorch's layouts
  std::string source;        // "timm" when the names were translated, else empty
  // The BatchNorm settings of the model the weights come from, where they differ from
  // whet's model's own; 0: whet's own.
  double bn_eps = 0, bn_momentum = 0;
  WidthRule width_rule = WidthRule::torchvision;  // how the source scales widths
};

// True when `sd` carries timm's MobileNet/EfficientNet names (a "conv_stem.weight").
bool has_timm_mobilenet_names(const nn::NamedTensors& sd);

// `sd` (PyTorch layouts) named for whet's `model_name`: timm's MobileNet names translated as
// above, anything else passed through unchanged. Throws whet::Error for timm MobileNet names
// given to a model that is not a MobileNet, and for a block whose layers fit no known role.
ImportedWeights import_weights(const std::string& model_name, nn::NamedTensors sd);

}  // namespace whet::models
