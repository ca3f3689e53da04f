// Typed options for the ops that take many integers (ARCHITECTURE.md, decision 8).
#pragma once

namespace whet {

// A (height, width) pair that an int converts to, as PyTorch's int-or-tuple arguments.
struct Int2 {
  int h = 0, w = 0;
  Int2(int v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Int2(int h_, int w_) : h(h_), w(w_) {}
  bool operator==(const Int2& o) const { return h == o.h && w == o.w; }
};

// torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups), over NHWC.
struct Conv2dOptions {
  Int2 stride = 1, padding = 0, dilation = 1;
  int groups = 1;
};

// max_pool2d / avg_pool2d. stride 0 means "equal to the kernel", as PyTorch's default None.
struct Pool2dOptions {
  Int2 kernel_size = 1;
  Int2 stride = 0, padding = 0, dilation = 1;
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool2d only
  Int2 effective_stride() const {
    return {stride.h ? stride.h : kernel_size.h, stride.w ? stride.w : kernel_size.w};
  }
};

enum class Reduction { none, mean, sum };

// torch.nn.functional.cross_entropy(logits, target, weight, ignore_index, reduction,
// label_smoothing)
struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  long ignore_index = -100;
  double label_smoothing = 0.0;
};

// Hyper-parameters of the fused optimizer updates (Backend::sgd_step and friends), by
// torch.optim's names and with its defaults. optim/'s options extend them with checks.
struct SgdStepOptions {
  double lr = 1e-3, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false, maximize = false;
};
struct AdamStepOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;  // PyTorch's betas
  bool amsgrad = false, maximize = false;
  bool decoupled_weight_decay = false;  // AdamW (PyTorch >= 2.6's Adam flag of that name)
};
struct RmspropStepOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8, weight_decay = 0.0, momentum = 0.0;
  bool centered = false, maximize = false;
};

}  // namespace whet
