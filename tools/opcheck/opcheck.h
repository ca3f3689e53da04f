// The op case table and the checks run over it (ARCHITECTURE.md, Tests).
// Each case builds float64 inputs, applies one op through the public API, and is checked:
//   - backward against float64 central differences (gradcheck: eps 1e-6, atol 1e-5, rtol 1e-3);
//   - forward against an independent naive reference, where the case has one;
//   - on CUDA, the same case in float32 against the CPU result (tests/gpu).
// The table is shared by the test suite and `whet ops`, which reports gradcheck: true only
// for ops that have a case here; a test fails when a differentiable op has none.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"

namespace whet::opcheck {

struct OpCase {
  std::string op;     // the name in core/op_registry
  std::string label;  // what this case covers, e.g. "stride 2, pad 1, groups 2"
  // Fresh inputs (float64 unless an input is an index tensor). Inputs whose gradient is
  // checked have requires_grad set; the others are held fixed.
  std::function<std::vector<Tensor>(Generator&)> inputs;
  // The op under test.
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  // Optional: an independent implementation (plain loops over host vectors) of the forward.
  std::function<Tensor(const std::vector<Tensor>&)> reference;
  double eps = 1e-6, atol = 1e-5, rtol = 1e-3;
};

struct CheckResult {
  bool ok = true;
  std::string message;  // on failure: which input, element, analytic vs numeric
};

// Compares analytic gradients of sum(fn(inputs) * w), w random, with central differences.
CheckResult gradcheck(const OpCase& c, uint64_t seed = 1234);
// Compares fn against reference, when the case has one (ok with no message when it has not).
CheckResult forward_check(const OpCase& c, uint64_t seed = 1234);
// Elementwise |a - b| <= atol + rtol * |b|; the message names the worst element.
CheckResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol);

const std::vector<OpCase>& op_cases();
bool has_gradcheck_case(const std::string& op);

// Input helpers for case tables.
Tensor input(const Shape& s, Generator& g, double lo = -1.0, double hi = 1.0);  // f64, grad
Tensor fixed(const Shape& s, Generator& g, double lo = -1.0, double hi = 1.0);  // f64, no grad

// Each case file contributes through one function; opcheck.cpp calls them all.
void add_elementwise_cases(std::vector<OpCase>& cases);  // cases_elementwise.cpp
void add_tensor_cases(std::vector<OpCase>& cases);       // cases_tensor.cpp
void add_conv_pool_cases(std::vector<OpCase>& cases);    // cases_conv_pool.cpp
void add_norm_softmax_cases(std::vector<OpCase>& cases); // cases_norm_softmax.cpp

}  // namespace whet::opcheck
