// Freezing: which parameters train. Patterns are shell globs over dotted parameter names
// (`layer1.*`, `*.bn*.weight`; `*` also crosses dots, as Python's fnmatch). Each helper
// returns how many parameters it changed, so a pattern that matches nothing can be reported.
#pragma once
#include <string>
#include <vector>

#include "nn/module.h"

namespace whet::nn {

bool glob_match(const std::string& pattern, const std::string& name);

int freeze(Module& m);    // every parameter
int unfreeze(Module& m);  // every parameter
int freeze_matching(Module& m, const std::vector<std::string>& patterns);
int unfreeze_matching(Module& m, const std::vector<std::string>& patterns);
// Every parameter owned by a module of this type ("Conv2d", "BatchNorm2d", "Linear", ...).
// This tests modules, not parameters: the thing `isinstance(param, nn.Conv2d)` gets wrong.
int freeze_type(Module& m, const std::string& type_name);
int unfreeze_type(Module& m, const std::string& type_name);
// BatchNorm fully frozen: statistics fixed and affine parameters not trained, whatever the
// train/eval mode of the rest. Returns the number of BatchNorm2d layers changed.
int freeze_batchnorm(Module& m, bool frozen = true);

}  // namespace whet::nn
