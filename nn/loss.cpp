#include "nn/loss.h"

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/op_util.h"

namespace whet::nn {

Tensor reduce_loss(const Tensor& per_element, Reduction r) {
  switch (r) {
    case Reduction::none: return per_element;
    case Reduction::sum: return sum(per_element);
    case Reduction::mean: return mean(per_element);
  }
  return per_element;
}

namespace {
void check_pair(const char* op, const Tensor& x, const Tensor& y) {
  check_defined(op, x, "input");
  check_defined(op, y, "target");
  check_floating(op, x, "input");
  WHET_CHECK(x.shape() == y.shape(), op, ": input shape ", shape_str(x.shape()),
             " and target shape ", shape_str(y.shape()), " differ");
  check_same_dtype(op, {x, y});
  check_same_device(op, {x, y});
}
}  // namespace

Tensor cross_entropy_loss(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o,
                          const Tensor& class_weight) {
  return cross_entropy(logits, target, o, class_weight);
}

Tensor mse_loss(const Tensor& x, const Tensor& y, Reduction r) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x, y})) return mse_loss((*a)[0], (*a)[1], r);
  check_pair("mse_loss", x, y);
  Tensor d = x - y;
  return reduce_loss(d * d, r);
}

Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction r) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x, y})) return l1_loss((*a)[0], (*a)[1], r);
  check_pair("l1_loss", x, y);
  return reduce_loss(abs(x - y), r);
}

Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, Reduction r, double beta) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x, y}))
    return smooth_l1_loss((*a)[0], (*a)[1], r, beta);
  check_pair("smooth_l1_loss", x, y);
  WHET_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  Tensor d = x - y;
  if (beta == 0) return reduce_loss(abs(d), r);
  Tensor ad = abs(d);
  Tensor quadratic = cast(lt(ad.detach(), scalar_like(beta, ad)), ad.dtype());  // fixed mask
  Tensor per = quadratic * (d * d * (0.5 / beta)) + (1.0 - quadratic) * (ad - 0.5 * beta);
  return reduce_loss(per, r);
}

Tensor bce_with_logits_loss(const Tensor& x, const Tensor& y, Reduction r, const Tensor& weight) {
  if (auto a = autocast_inputs(CastPolicy::fp32, {x, y, weight}))
    return bce_with_logits_loss((*a)[0], (*a)[1], r, (*a)[2]);
  check_pair("bce_with_logits_loss", x, y);
  Tensor per;
  {
    NoGradGuard no_grad;
    Tensor xd = x.detach(), yd = y.detach();
    per = relu(xd) - xd * yd + log(exp(-abs(xd)) + 1.0);
    if (weight.defined()) per = per * weight;
  }
  Tensor xd = x.detach(), yd = y.detach(), wd = weight.defined() ? weight.detach() : Tensor();
  record("bce_with_logits", {x, y}, per, [xd, yd, wd](const Tensor& g, const NeedsGrad& need) {
    // d/dx = (sigmoid(x) - y) w;  d/dy = -x w
    Tensor gw = wd.defined() ? g * wd : g;
    return std::vector<Tensor>{need[0] ? (sigmoid(xd) - yd) * gw : Tensor(),
                               need[1] ? -(xd * gw) : Tensor()};
  });
  return reduce_loss(per, r);
}

Tensor l1_penalty(const std::vector<Tensor>& params) {
  WHET_CHECK(!params.empty(), "l1_penalty: no parameters given");
  Tensor total = sum(abs(params[0]));
  for (size_t i = 1; i < params.size(); ++i) total = total + sum(abs(params[i]));
  return total;
}

Tensor l2_penalty(const std::vector<Tensor>& params) {
  WHET_CHECK(!params.empty(), "l2_penalty: no parameters given");
  Tensor total = sum(params[0] * params[0]);
  for (size_t i = 1; i < params.size(); ++i) total = total + sum(params[i] * params[i]);
  return total;
}

}  // namespace whet::nn
