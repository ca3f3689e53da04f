// small_cnn: a small CNN for tests and CPU demos (Fashion-MNIST / MNIST, 28x28x1), built from
// the same pieces as the MobileNets so every feature of the zoo (head swap, stem adaptation,
// freezing by name) works on it in milliseconds:
//   features.0 Conv2dNormActivation(C -> 32, 3x3, ReLU), features.1 MaxPool2d(2),
//   features.2 Conv2dNormActivation(32 -> 64), features.3 Conv2dNormActivation(64 -> 64),
//   features.4 MaxPool2d(2), features.5 Conv2dNormActivation(64 -> 128),
//   avgpool (global), flatten, fc.
// About 14.6 M multiply-adds per 28x28 image. Its PyTorch twin (SmallCNN in
// tools/golden/make_model_fixtures.py), trained with Adam and a one-cycle schedule (max lr
// 4e-3, batch 128), reaches 91.5% Fashion-MNIST test accuracy in 3 epochs; without
// features.3 it needs more than 3 (89.8%). Init as torchvision's CNNs (fc: nn.Linear's).
#pragma once
#include "models/classifier.h"

namespace whet::models {

class SmallCNN : public Classifier {
 public:
  explicit SmallCNN(const ModelOptions& o = {});
  Tensor forward(const Tensor& x) override;
  std::string head_prefix() const override { return "fc."; }
  std::string stem_prefix() const override { return "features.0.0."; }
};

}  // namespace whet::models
