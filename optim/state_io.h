// Helpers for the state dicts of optimizers, schedulers and the loss scaler. Every state is a
// list of named tensors (nn::NamedTensors) so a checkpoint can hold it in a safetensors file:
// hyper-parameters and counters are 0-D float64 tensors (integers are exact up to 2^53), lists
// of them 1-D float64.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "nn/module.h"

namespace whet::optim {

using nn::NamedTensors;

Tensor scalar_f64(double v);                     // 0-D float64 on the CPU
Tensor vector_f64(const std::vector<double>& v);  // 1-D float64 on the CPU

// Reads a state dict by key, naming `what` ("StepLR state dict") in every error. finish()
// throws listing the keys nothing read, so a dict from another kind of object is refused.
class StateReader {
 public:
  StateReader(const NamedTensors& sd, std::string what);
  bool has(const std::string& key) const;
  const Tensor& tensor(const std::string& key);
  double scalar(const std::string& key);  // a one-element tensor's value
  // A 1-D list; `expected_size` >= 0 checks its length.
  std::vector<double> list(const std::string& key, int64_t expected_size = -1);
  // The entries under `prefix` ("schedulers.0."), with the prefix removed; marks them read.
  NamedTensors sub(const std::string& prefix);
  void finish() const;

 private:
  const NamedTensors& sd_;
  std::string what_;
  std::set<std::string> used_;
};

// Prepends `prefix` to every name of `sd` and appends the entries to `out`.
void append_prefixed(NamedTensors& out, const std::string& prefix, const NamedTensors& sd);

}  // namespace whet::optim
