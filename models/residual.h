// Blocks with a skip connection, y = shortcut(x) + F(x), whose residual branch F stochastic
// depth may drop (Huang et al. 2016; timm's drop_path, torchvision's StochasticDepth "row"):
// in training, each sample's branch is zeroed with probability drop_path and the survivors
// scaled by 1 / (1 - drop_path), so the expectation is unchanged; in eval it is F itself.
// set_drop_path spreads a rate over a model's blocks as timm does: linearly from 0 at the
// first block to the rate at the last, the deep blocks dropped most.
#pragma once
#include "nn/module.h"

namespace whet::models {

class ResidualBlock : public nn::Module {
 public:
  using nn::Module::Module;
  double drop_path = 0;

 protected:
  // F(x) as the sum should see it: per-sample dropped and rescaled in training.
  Tensor drop_branch(const Tensor& branch) const;
};

// Sets every ResidualBlock's drop_path, in module order, to rate * i / (blocks - 1); returns
// how many blocks there are. rate in [0, 1).
int set_drop_path(nn::Module& model, double rate);

}  // namespace whet::models
