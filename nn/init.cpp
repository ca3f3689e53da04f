#include "nn/init.h"

#include <cmath>

#include "core/autograd.h"

namespace whet::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  WHET_CHECK(w.dim() >= 2, "init: fan in/out needs a weight of at least 2 dims, got ",
             shape_str(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 1; d < w.dim() - 1; ++d) receptive *= w.size(d);
  // Linear (out, in): in is the last dim; Conv2d (O, KH, KW, I/g): likewise.
  return {w.size(-1) * receptive, w.size(0) * receptive};
}

void uniform_(Tensor& t, double low, double high, Generator& g) {
  NoGradGuard no_grad;
  t.copy_(uniform(t.shape(), low, high, t.dtype(), t.device(), g));
}

void normal_(Tensor& t, double mean, double std, Generator& g) {
  NoGradGuard no_grad;
  t.copy_(randn(t.shape(), t.dtype(), t.device(), g) * std + mean);
}

void constant_(Tensor& t, double value) {
  NoGradGuard no_grad;
  t.fill_(value);
}

void kaiming_uniform_(Tensor& w, double a, Generator& g) {
  double gain = std::sqrt(2.0 / (1.0 + a * a));
  double bound = gain * std::sqrt(3.0 / double(fans(w).first));
  uniform_(w, -bound, bound, g);
}

void kaiming_normal_fan_out_(Tensor& w, Generator& g) {
  normal_(w, 0.0, std::sqrt(2.0) / std::sqrt(double(fans(w).second)), g);
}

void default_linear_or_conv_(Tensor& w, Tensor& b, Generator& g) {
  kaiming_uniform_(w, std::sqrt(5.0), g);
  if (b.defined()) {
    double bound = 1.0 / std::sqrt(double(fans(w).first));
    uniform_(b, -bound, bound, g);
  }
}

}  // namespace whet::nn::init
