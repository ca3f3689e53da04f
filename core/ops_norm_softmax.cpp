// Normalisation, softmax, dropout and the cross-entropy loss, each with its backward beside it.
// ARCHITECTURE.md, decision 7: statistics, softmax and losses in fp32. batch_norm normalises a
// half input with float32 parameters and statistics; softmax and cross_entropy compute a half
// input in float32 on every device and round the result back (under autocast they return
// float32 instead), so their kernels only ever see float32 and float64.

#include "core/autocast.h"
#include "core/op_util.h"
#include "core/ops.h"

namespace whet {

namespace {
// A half tensor widened to float32 (differentiably); anything else as it is.
Tensor widen(const Tensor& t) {
  return t.defined() && is_half(t.dtype()) ? cast(t, DType::f32) : t;
}

void check_channel_param(const Tensor& t, int64_t c, const Tensor& x, const char* what) {
  if (!t.defined()) return;
  WHET_CHECK(t.dim() == 1 && t.size(0) == c, "batch_norm: ", what, " must have shape (", c,
             ",) for input of shape ", shape_str(x.shape()), ", got ", shape_str(t.shape()));
  check_floating("batch_norm", t, what);
}
}  // namespace

// ---- batch_norm ----

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_defined(op, x, "input");
  check_floating(op, x, "input");
  WHET_CHECK(x.dim() == 2 || x.dim() == 4, op, ": input must be (N, C) or (N, H, W, C), got ",
             shape_str(x.shape()));
  const int64_t c = x.size(-1);
  check_channel_param(weight, c, x, "weight");
  check_channel_param(bias, c, x, "bias");
  check_channel_param(running_mean, c, x, "running_mean");
  check_channel_param(running_var, c, x, "running_var");
  WHET_CHECK(running_mean.defined() == running_var.defined(), op,
             ": running_mean and running_var must be given together");
  check_same_device(op, {x, weight, bias, running_mean, running_var});
  int64_t m = 1;  // values per channel: N*H*W
  for (int64_t i = 0; i + 1 < x.dim(); ++i) m *= x.size(i);
  WHET_CHECK(!training || m != 1, op, ": expected more than 1 value per channel when training, ",
             "got input of shape ", shape_str(x.shape()));

  // A half input is normalised with float32 parameters and statistics (autocast's mixed
  // precision, and the kernels' contract): half parameters are widened, and half running
  // statistics are updated through float32 copies, then written back.
  const auto half = [](const Tensor& t) { return t.defined() && is_half(t.dtype()); };
  if (half(x) && (half(weight) || half(bias) || half(running_mean) || half(running_var))) {
    Tensor rm = widen(running_mean), rv = widen(running_var);
    Tensor y = batch_norm(x, widen(weight), widen(bias), rm, rv, training, momentum, eps);
    if (running_mean.defined() && !rm.same_storage(running_mean)) running_mean.copy_(rm);
    if (running_var.defined() && !rv.same_storage(running_var)) running_var.copy_(rv);
    return y;
  }
  const DType param_dtype = half(x) ? DType::f32 : x.dtype();
  for (const Tensor& t : {weight, bias, running_mean, running_var}) {
    WHET_CHECK(!t.defined() || t.dtype() == param_dtype, op, ": parameters and statistics of a ",
               dtype_name(x.dtype()), " input must be ", dtype_name(param_dtype), ", got ",
               dtype_name(t.dtype()));
  }

  // Without running statistics the batch's own are used even in eval (track_running_stats=False).
  const bool batch_stats = training || !running_mean.defined();
  Tensor y = empty_like(x);                                          // (N, H, W, C) or (N, C)
  Tensor save_mean = Tensor::empty({c}, param_dtype, x.device());    // (C)
  Tensor save_invstd = Tensor::empty({c}, param_dtype, x.device());  // (C)
  if (x.numel() > 0) {
    kernel(x.device(), &Backend::batch_norm, op)(x, weight, bias, running_mean, running_var,
                                                 batch_stats, momentum, eps, y, save_mean,
                                                 save_invstd);
  }
  // gx, gw, gb from the saved statistics; the undefined weight/bias keep their input slots.
  record(op, {x, weight, bias}, y,
         [x = x.detach(), w = weight.defined() ? weight.detach() : Tensor(), save_mean, save_invstd,
          batch_stats](const Tensor& gy, const NeedsGrad& need) {
           Tensor gx = need[0] ? empty_like(x) : Tensor();
           Tensor gw = need[1] ? zeros_like(save_mean) : Tensor();
           Tensor gb = need[2] ? zeros_like(save_mean) : Tensor();
           if (x.numel() > 0) {
             kernel(x.device(), &Backend::batch_norm_backward, "batch_norm")(
                 gy, x, w, save_mean, save_invstd, batch_stats, gx, gw, gb);
           }
           return std::vector<Tensor>{gx, gw, gb};
         });
  return y;
}

// ---- softmax / log_softmax ----

namespace {
Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x})) return softmax_impl((*a)[0], dim, log);
  const char* op = log ? "log_softmax" : "softmax";
  check_defined(op, x, "input");
  check_floating(op, x, "input");
  const int64_t d = wrap_dim(dim, x.dim(), op);
  if (is_half(x.dtype())) return cast(softmax_impl(cast(x, DType::f32), dim, log), x.dtype());

  // x viewed as (outer, D, inner), normalised over D.
  int64_t outer = 1, extent = x.dim() ? x.size(d) : 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  Tensor y = empty_like(x);
  if (x.numel() > 0) kernel(x.device(), &Backend::softmax, op)(x, outer, extent, inner, log, y);
  // softmax: gx = y * (gy - sum(gy * y)); log_softmax: gx = gy - exp(y) * sum(gy)
  record(op, {x}, y,
         [y = y.detach(), outer, extent, inner, log, op](const Tensor& gy, const NeedsGrad&) {
           Tensor gx = empty_like(y);
           if (y.numel() > 0) {
             kernel(y.device(), &Backend::softmax_backward, op)(y, gy, outer, extent, inner, log,
                                                                gx);
           }
           return std::vector<Tensor>{gx};
         });
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

// ---- dropout ----

Tensor dropout(const Tensor& x, double p, bool training, Generator& g) {
  const char* op = "dropout";
  check_defined(op, x, "input");
  WHET_CHECK(p >= 0 && p < 1, op, ": probability must be in [0, 1), got ", p);
  check_floating(op, x, "input");
  if (p == 0 || !training || x.numel() == 0) return x;
  // The mask already holds 1/(1-p) or 0, so y = x * mask, and mul supplies the gradient.
  Tensor mask = empty_like(x);
  const uint64_t first = reserve_batch_counters(g, x.numel(), x.dim() ? x.size(0) : 1, op);
  kernel(x.device(), &Backend::dropout_mask, op)(mask, p, g.seed(), first);
  return mul(x, mask);
}

// ---- cross_entropy ----

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o,
                     const Tensor& class_weight) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {logits, class_weight}))
    return cross_entropy((*a)[0], target, o, (*a)[1]);
  const char* op = "cross_entropy";
  check_defined(op, logits, "logits");
  check_defined(op, target, "target");
  check_rank(op, logits, 2, "logits (N, C)");
  check_floating(op, logits, "logits");
  check_rank(op, target, 1, "target (N)");
  WHET_CHECK(target.dtype() == DType::i64, op, ": target must hold int64 class indices, got ",
             dtype_name(target.dtype()));
  const int64_t n = logits.size(0), c = logits.size(1);
  WHET_CHECK(target.size(0) == n, op, ": target of shape ", shape_str(target.shape()),
             " does not match logits of shape ", shape_str(logits.shape()));
  if (class_weight.defined()) {
    WHET_CHECK(class_weight.dim() == 1 && class_weight.size(0) == c, op,
               ": class_weight must have shape (", c, ",) for logits of shape ",
               shape_str(logits.shape()), ", got ", shape_str(class_weight.shape()));
    check_floating(op, class_weight, "class_weight");
  }
  WHET_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, op,
             ": label_smoothing must be in [0, 1], got ", o.label_smoothing);
  check_same_device(op, {logits, target, class_weight});
  if (is_half(logits.dtype())) {
    return cast(cross_entropy(cast(logits, DType::f32), target, o, widen(class_weight)),
                logits.dtype());
  }
  check_same_dtype(op, {logits, class_weight});

  const DType dt = logits.dtype();
  const Device dev = logits.device();
  Tensor losses = Tensor::empty({n}, dt, dev);      // (N), 0 where ignored
  Tensor weight_sum = Tensor::empty({1}, dt, dev);  // (1), the mean's divisor
  Tensor lse = Tensor::empty({n}, dt, dev);         // (N), saved for backward
  kernel(dev, &Backend::cross_entropy, op)(logits, target, class_weight, o, losses, weight_sum,
                                           lse);
  Tensor out;
  switch (o.reduction) {
    case Reduction::none:
      out = losses;
      break;
    case Reduction::sum:
      out = sum(losses);
      break;
    // All samples ignored (or N == 0) gives 0/0 = nan, as PyTorch.
    case Reduction::mean:
      out = div(sum(losses), weight_sum.reshape(Shape{}));
      break;
  }
  // glosses (N) spreads the reduced gradient over the samples; the kernel applies
  // d loss_i / d logits_i = (softmax - smoothed one-hot target) * weights, zero where ignored.
  record(op, {logits}, out,
         [logits = logits.detach(), target = target.detach(),
          w = class_weight.defined() ? class_weight.detach() : Tensor(), o, lse, weight_sum,
          n](const Tensor& g, const NeedsGrad&) {
           Tensor glosses;  // (N)
           switch (o.reduction) {
             case Reduction::none:
               glosses = g;
               break;
             case Reduction::sum:
               glosses = mul(ones({n}, g.dtype(), g.device()), g);
               break;
             case Reduction::mean:
               glosses = mul(ones({n}, g.dtype(), g.device()), div(g, weight_sum.reshape(Shape{})));
               break;
           }
           Tensor glogits = empty_like(logits);  // (N, C)
           if (logits.numel() > 0) {
             kernel(logits.device(), &Backend::cross_entropy_backward, "cross_entropy")(
                 logits, target, w, o, lse, glosses, glogits);
           }
           return std::vector<Tensor>{glogits};
         });
  return out;
}

}  // namespace whet
