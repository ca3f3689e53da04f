#include "models/classifier.h"

#include <cmath>

#include "core/autograd.h"
#include "nn/init.h"

namespace whet::models {

namespace {
template <class Layer>
Layer& layer_at(const nn::Module& root, const std::string& prefix, const char* role,
                const char* expected) {
  std::string path = prefix.substr(0, prefix.size() - 1);
  nn::Module* m = const_cast<nn::Module&>(root).find(path);
  auto* layer = dynamic_cast<Layer*>(m);
  WHET_CHECK(layer != nullptr, root.type_name(), ": the ", role, " '", path, "' is ",
             m ? "a " + m->type_name() : std::string("missing"), ", expected ", expected);
  return *layer;
}

// The module holding the layer at `prefix` ("classifier.1."), and the layer's name in it.
std::pair<nn::Module*, std::string> parent_of(nn::Module& root, const std::string& prefix) {
  std::string path = prefix.substr(0, prefix.size() - 1);
  size_t dot = path.rfind('.');
  if (dot == std::string::npos) return {&root, path};
  return {root.find(path.substr(0, dot)), path.substr(dot + 1)};
}
}  // namespace

const char* width_rule_name(WidthRule r) { return r == WidthRule::timm ? "timm" : "torchvision"; }

WidthRule parse_width_rule(const std::string& s, const std::string& what) {
  for (WidthRule r : {WidthRule::torchvision, WidthRule::timm})
    if (s == width_rule_name(r)) return r;
  WHET_FAIL(what, " '", s, "': expected torchvision or timm");
}

nn::Linear& Classifier::head() const {
  return layer_at<nn::Linear>(*this, head_prefix(), "head", "Linear");
}
nn::Conv2d& Classifier::stem() const {
  return layer_at<nn::Conv2d>(*this, stem_prefix(), "stem", "Conv2d");
}

void Classifier::reset_classifier(int64_t num_classes) {
  WHET_CHECK(num_classes > 0, "reset_classifier: num_classes must be positive, got ", num_classes);
  const nn::Linear& old = head();
  auto fresh = std::make_shared<nn::Linear>(old.in_features, num_classes, old.bias.defined());
  fresh->to(old.weight.device());
  fresh->to(old.weight.dtype());
  fresh->train(old.is_training());
  auto [parent, name] = parent_of(*this, head_prefix());
  parent->replace_child(name, fresh);
}

void adapt_input_channels(Classifier& model, int64_t channels) {
  WHET_CHECK(channels > 0, "adapt_input_channels: channels must be positive, got ", channels);
  const nn::Conv2d& old = model.stem();
  const int64_t in = old.spec.in_channels;
  if (in == channels) return;
  WHET_CHECK(old.spec.options.groups == 1, "adapt_input_channels: the stem '", model.stem_prefix(),
             "' is grouped (groups=", old.spec.options.groups, ")");
  NoGradGuard no_grad;
  Tensor w;  // (O, KH, KW, channels)
  if (channels == 1) {
    w = sum(old.weight, {3}, true);
  } else {
    std::vector<Tensor> cols;
    for (int64_t j = 0; j < channels; ++j) cols.push_back(narrow(old.weight, 3, j % in, 1));
    w = concat(cols, 3) * (double(in) / double(channels));
  }
  nn::Conv2dSpec spec = old.spec;
  spec.in_channels = channels;
  auto fresh = std::make_shared<nn::Conv2d>(spec);
  fresh->to(old.weight.device());
  fresh->to(old.weight.dtype());
  fresh->weight.copy_(w);
  fresh->weight.set_requires_grad(old.weight.requires_grad());
  if (old.bias.defined()) {
    fresh->bias.copy_(old.bias);
    fresh->bias.set_requires_grad(old.bias.requires_grad());
  }
  fresh->train(old.is_training());
  auto [parent, name] = parent_of(model, model.stem_prefix());
  parent->replace_child(name, fresh);
}

Tensor call_child(const nn::Module& m, const std::string& name, const Tensor& x) {
  for (const auto& [n, c] : m.named_children())
    if (n == name) return c->forward(x);
  WHET_FAIL(m.type_name(), ": no child named '", name, "'");
}

void init_torchvision_(nn::Module& m, double linear_std) {
  for (auto& [path, mod] : m.named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(mod)) {
      nn::init::kaiming_normal_fan_out_(conv->weight);
      if (conv->bias.defined()) nn::init::constant_(conv->bias, 0.0);
    } else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod)) {
      if (bn->weight.defined()) nn::init::constant_(bn->weight, 1.0);
      if (bn->bias.defined()) nn::init::constant_(bn->bias, 0.0);
    } else if (auto* lin = dynamic_cast<nn::Linear*>(mod); lin && linear_std > 0) {
      nn::init::normal_(lin->weight, 0.0, linear_std);
      if (lin->bias.defined()) nn::init::constant_(lin->bias, 0.0);
    }
  }
}

}  // namespace whet::models
