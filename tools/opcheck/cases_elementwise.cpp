// Cases for the elementwise unary and binary ops.
#include <cmath>

#include "tools/opcheck/opcheck.h"
#include "tools/opcheck/reference.h"

namespace whet::opcheck {

namespace {
double sigmoid_ref(double v) { return 1 / (1 + std::exp(-v)); }
double relu6_ref(double v) { return std::min(std::max(v, 0.0), 6.0); }

struct UnarySpec {
  UnaryOp op;
  double lo, hi;  // input range: inside the domain, covering the kinks that matter
  double (*ref)(double);
};

const UnarySpec kUnary[] = {
    {UnaryOp::neg, -2, 2, [](double v) { return -v; }},
    {UnaryOp::abs, -2, 2, [](double v) { return std::abs(v); }},
    {UnaryOp::exp, -2, 2, [](double v) { return std::exp(v); }},
    {UnaryOp::log, 0.2, 3, [](double v) { return std::log(v); }},
    {UnaryOp::sqrt, 0.2, 3, [](double v) { return std::sqrt(v); }},
    {UnaryOp::rsqrt, 0.2, 3, [](double v) { return 1 / std::sqrt(v); }},
    {UnaryOp::sin, -3, 3, [](double v) { return std::sin(v); }},
    {UnaryOp::cos, -3, 3, [](double v) { return std::cos(v); }},
    {UnaryOp::square, -2, 2, [](double v) { return v * v; }},
    {UnaryOp::reciprocal, 0.3, 3, [](double v) { return 1 / v; }},
    {UnaryOp::relu, -2, 2, [](double v) { return v > 0 ? v : 0.0; }},
    {UnaryOp::relu6, -2, 8, relu6_ref},
    {UnaryOp::sigmoid, -4, 4, sigmoid_ref},
    {UnaryOp::tanh, -3, 3, [](double v) { return std::tanh(v); }},
    {UnaryOp::silu, -4, 4, [](double v) { return v * sigmoid_ref(v); }},
    {UnaryOp::hardswish, -5, 5, [](double v) { return v * relu6_ref(v + 3) / 6; }},
    {UnaryOp::hardsigmoid, -5, 5, [](double v) { return relu6_ref(v + 3) / 6; }},
    {UnaryOp::gelu, -3, 3, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
};

struct BinarySpec {
  BinaryOp op;
  double lo_a, hi_a, lo_b, hi_b;
  double (*ref)(double, double);
};

const BinarySpec kBinary[] = {
    {BinaryOp::add, -2, 2, -2, 2, [](double a, double b) { return a + b; }},
    {BinaryOp::sub, -2, 2, -2, 2, [](double a, double b) { return a - b; }},
    {BinaryOp::mul, -2, 2, -2, 2, [](double a, double b) { return a * b; }},
    {BinaryOp::div, -2, 2, 0.5, 2, [](double a, double b) { return a / b; }},
    {BinaryOp::pow, 0.5, 2, -1.5, 2, [](double a, double b) { return std::pow(a, b); }},
    {BinaryOp::maximum, -2, 2, -2, 2, [](double a, double b) { return std::max(a, b); }},
    {BinaryOp::minimum, -2, 2, -2, 2, [](double a, double b) { return std::min(a, b); }},
};

// Operand shape pairs: equal, row broadcast, both sides broadcast, scalar.
const std::pair<Shape, Shape> kShapes[] = {
    {{3, 5}, {3, 5}}, {{2, 3, 4}, {4}}, {{2, 1, 3}, {1, 4, 1}}, {{7}, {}}, {{}, {2, 3}}};
}  // namespace

void add_elementwise_cases(std::vector<OpCase>& cases) {
  for (const UnarySpec& u : kUnary) {
    for (const Shape& s : {Shape{2, 3, 5}, Shape{}, Shape{7}}) {
      OpCase c;
      c.op = unary_op_name(u.op);
      c.label = "shape " + shape_str(s);
      c.inputs = [u, s](Generator& g) { return std::vector<Tensor>{input(s, g, u.lo, u.hi)}; };
      c.fn = [u](const std::vector<Tensor>& x) { return unary(u.op, x[0]); };
      c.reference = [u](const std::vector<Tensor>& x) { return ref_map(x[0], u.ref); };
      cases.push_back(c);
    }
  }
  for (const BinarySpec& b : kBinary) {
    for (const auto& [sa, sb] : kShapes) {
      OpCase c;
      c.op = binary_op_name(b.op);
      c.label = shape_str(sa) + " with " + shape_str(sb);
      c.inputs = [b, sa = sa, sb = sb](Generator& g) {
        return std::vector<Tensor>{input(sa, g, b.lo_a, b.hi_a), input(sb, g, b.lo_b, b.hi_b)};
      };
      c.fn = [b](const std::vector<Tensor>& x) { return binary(b.op, x[0], x[1]); };
      c.reference = [b](const std::vector<Tensor>& x) { return ref_broadcast(x[0], x[1], b.ref); };
      cases.push_back(c);
    }
  }
}

}  // namespace whet::opcheck
