#include "nn/freeze.h"

#include <fnmatch.h>

#include "nn/layers.h"

namespace whet::nn {

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

namespace {
int set_where(Module& m, bool trainable, const std::function<bool(const std::string&)>& pick) {
  int n = 0;
  for (auto& [name, p] : m.named_parameters()) {
    if (!pick(name) || p.requires_grad() == trainable) continue;
    p.set_requires_grad(trainable);
    ++n;
  }
  return n;
}

bool any_match(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

int set_type(Module& m, const std::string& type, bool trainable) {
  int n = 0;
  for (auto& [path, mod] : m.named_modules()) {
    if (mod->type_name() != type) continue;
    for (auto& [name, p] : mod->named_parameters(false)) {
      if (p.requires_grad() == trainable) continue;
      p.set_requires_grad(trainable);
      ++n;
    }
  }
  return n;
}
}  // namespace

int freeze(Module& m) { return set_where(m, false, [](const std::string&) { return true; }); }
int unfreeze(Module& m) { return set_where(m, true, [](const std::string&) { return true; }); }

int freeze_matching(Module& m, const std::vector<std::string>& patterns) {
  return set_where(m, false, [&](const std::string& n) { return any_match(patterns, n); });
}
int unfreeze_matching(Module& m, const std::vector<std::string>& patterns) {
  return set_where(m, true, [&](const std::string& n) { return any_match(patterns, n); });
}

int freeze_type(Module& m, const std::string& type) { return set_type(m, type, false); }
int unfreeze_type(Module& m, const std::string& type) { return set_type(m, type, true); }

int freeze_batchnorm(Module& m, bool frozen) {
  int n = 0;
  for (auto& [path, mod] : m.named_modules()) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(mod)) {
      bn->set_frozen(frozen);
      ++n;
    }
  }
  return n;
}

}  // namespace whet::nn
