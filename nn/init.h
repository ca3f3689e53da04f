// Parameter initialisers with torch.nn.init's formulas. They draw from a whet Generator, so
// values are reproducible for a seed (but are not PyTorch's numbers: load weights for those).
#pragma once
#include "core/ops.h"

namespace whet::nn::init {

// fan_in and fan_out of a weight in our layouts: Linear (out, in); Conv2d (O, KH, KW, I/g).
std::pair<int64_t, int64_t> fans(const Tensor& w);

void uniform_(Tensor& t, double low, double high, Generator& g = default_generator());
void normal_(Tensor& t, double mean, double std, Generator& g = default_generator());
void constant_(Tensor& t, double value);
// kaiming_uniform_(w, a, mode=fan_in, nonlinearity=leaky_relu): bound = gain * sqrt(3 / fan),
// gain = sqrt(2 / (1 + a^2)).
void kaiming_uniform_(Tensor& w, double a = 0.0, Generator& g = default_generator());
// kaiming_normal_(w, mode=fan_out, nonlinearity=relu): torchvision's ResNet conv init.
void kaiming_normal_fan_out_(Tensor& w, Generator& g = default_generator());

// PyTorch's default for Linear and Conv2d (reset_parameters): weight kaiming-uniform with
// a = sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_linear_or_conv_(Tensor& w, Tensor& b, Generator& g = default_generator());

}  // namespace whet::nn::init
