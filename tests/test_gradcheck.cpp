// Runs the whole op case table: forward against the naive references, backward against
// float64 central differences; and fails when a differentiable op has no case.
#include <doctest/doctest.h>

#include "core/autograd.h"
#include "core/op_registry.h"
#include "tools/opcheck/opcheck.h"

using namespace whet;

TEST_CASE("gradcheck: every differentiable op has at least one case") {
  for (const OpInfo& op : op_registry()) {
    if (!op.differentiable) continue;
    INFO("op: ", op.name);
    CHECK(opcheck::has_gradcheck_case(op.name));
  }
}

TEST_CASE("gradcheck: every case names a registered op") {
  for (const opcheck::OpCase& c : opcheck::op_cases()) {
    bool found = false;
    for (const OpInfo& op : op_registry()) found = found || op.name == c.op;
    INFO("case: ", c.op, " / ", c.label);
    CHECK(found);
  }
}

TEST_CASE("gradcheck: forward matches the naive reference") {
  int with_reference = 0;
  for (const opcheck::OpCase& c : opcheck::op_cases()) {
    if (!c.reference) continue;
    ++with_reference;
    INFO("case: ", c.op, " / ", c.label);
    opcheck::CheckResult r = opcheck::forward_check(c);
    INFO(r.message);
    CHECK(r.ok);
  }
  CHECK(with_reference > 50);
}

TEST_CASE("gradcheck: backward matches float64 central differences") {
  for (const opcheck::OpCase& c : opcheck::op_cases()) {
    INFO("case: ", c.op, " / ", c.label);
    opcheck::CheckResult r = opcheck::gradcheck(c);
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("gradcheck: the checker catches a wrong gradient") {
  // A deliberately wrong backward (twice the true gradient) must be reported.
  opcheck::OpCase c;
  c.op = "test_wrong";
  c.inputs = [](Generator& g) { return std::vector<Tensor>{opcheck::input({3}, g)}; };
  c.fn = [](const std::vector<Tensor>& x) {
    Tensor y = x[0].detach() * 3.0;
    record("wrong", {x[0]}, y, [](const Tensor& g, const NeedsGrad&) {
      return std::vector<Tensor>{g * 6.0};
    });
    return y;
  };
  CHECK_FALSE(opcheck::gradcheck(c).ok);
}
