// A model's module tree with each module's output shape, its parameter count and the forward
// FLOPs for one input size: what `whet inspect` prints (torchinfo.summary / fvcore's
// FlopCountAnalysis in PyTorch land).
//
// summarize() runs one forward under NoGradGuard in eval mode on zeros of the input shape. To
// see every module's output it wraps each child in a recorder for the duration of that
// forward (through Module::replace_child, which the zoo's forwards honour: models/classifier.h)
// and restores the original children and train/eval modes afterwards, even on error.
// FLOPs are 2 x multiply-adds of Conv2d (N*OH*OW*O * KH*KW*I/groups) and Linear
// (N*out * in) layers, summed over all calls; elementwise work, pooling and BN are not counted.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace whet::models {

struct ModuleStats {
  std::string name;  // dotted path; "" for the model itself
  int depth = 0;     // 0 for the model itself
  std::string type, description;
  Shape output;  // of the first call; empty when forward never called it
  int calls = 0;
  int64_t params = 0;  // its parameters and its descendants'
  int64_t flops = 0;   // its conv/linear work and its descendants', over all calls
};

struct Summary {
  std::vector<ModuleStats> modules;  // named_modules() order, the model first
  Shape input, output;
  int64_t total_params = 0, trainable_params = 0, frozen_params = 0;
  int64_t buffer_elements = 0;
  int64_t flops = 0;  // whole forward
};

// `input`: (N, H, W, C).
Summary summarize(nn::Module& model, const Shape& input);
// The tree, one module per line (name indented by depth, output shape, parameters, FLOPs,
// description), then the totals.
std::string format_summary(const Summary& s);
// 11689512 -> "11,689,512".
std::string with_commas(int64_t v);

}  // namespace whet::models
