// float16 and bfloat16 on the CPU without half kernels. The arithmetic kernels are compiled for
// float32 and float64 only; with_half<cpu::kernel> is the same kernel taking half tensors too:
// half arguments are widened to float32 temporaries, the float32 kernel runs, and half outputs
// are rounded back. That rounds once per op, exactly as a GPU kernel that computes in float and
// stores half, so the CPU stays the reference its CUDA twins are tested against. (binary and
// reduce need no adapter: they take every numeric dtype and compute half in float already.)
//
// Which arguments are outputs is read off the signature: `const Tensor&` is an input, `Tensor&`
// an output. Kernels write their outputs without reading them, so a half output is not
// widened on the way in, except the read-write arguments a wrapper names by position
// (batch_norm's running statistics: with_half<cpu::batch_norm, 3, 4>).
#pragma once
#include <cstddef>
#include <tuple>
#include <utility>

#include "kernels/cpu/kernels.h"

namespace whet::cpu {

namespace half_adapter {

inline bool is_half_arg(const Tensor& t) { return t.defined() && is_half(t.dtype()); }
template <class A>
bool is_half_arg(const A&) {
  return false;
}

// A float32 copy of a half tensor.
Tensor widened(const Tensor& t);
// An uninitialised float32 tensor of t's shape.
Tensor widened_output(const Tensor& t);

// One kernel argument as the float32 kernel takes it: anything but a tensor passes through.
template <class A>
struct Arg {
  Arg(A a, bool) : value(std::forward<A>(a)) {}
  A get() { return std::forward<A>(value); }
  void finish() {}
  A value;
};

template <>
struct Arg<const Tensor&> {
  Arg(const Tensor& t, bool) : value(is_half_arg(t) ? widened(t) : t) {}
  const Tensor& get() { return value; }
  void finish() {}
  Tensor value;
};

template <>
struct Arg<Tensor&> {
  Arg(Tensor& t, bool read) : out(t), half(is_half_arg(t)) {
    if (half) wide = read ? widened(t) : widened_output(t);
  }
  Tensor& get() { return half ? wide : out; }
  void finish() {
    if (half) copy(wide, out);  // rounds to nearest even
  }
  Tensor& out;
  bool half;
  Tensor wide;
};

template <auto Kernel, size_t... ReadWrite>
struct WithHalf;

template <class... Args, void (*Kernel)(Args...), size_t... ReadWrite>
struct WithHalf<Kernel, ReadWrite...> {
  static void run(Args... args) {
    if (!(is_half_arg(args) || ...)) return Kernel(std::forward<Args>(args)...);
    run_wide(std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
  }

  static constexpr bool read_write(size_t i) { return ((i == ReadWrite) || ...); }

  template <size_t... I>
  static void run_wide(std::index_sequence<I...>, Args... args) {
    std::tuple<Arg<Args>...> wide(Arg<Args>(std::forward<Args>(args), read_write(I))...);
    std::apply([](auto&... a) { Kernel(a.get()...); }, wide);
    std::apply([](auto&... a) { (a.finish(), ...); }, wide);
  }
};

}  // namespace half_adapter

// The kernel `Kernel` extended to float16 and bfloat16 tensors, with the same signature.
// ReadWrite: positions of `Tensor&` arguments the kernel reads before writing.
template <auto Kernel, size_t... ReadWrite>
constexpr auto with_half = &half_adapter::WithHalf<Kernel, ReadWrite...>::run;

}  // namespace whet::cpu
