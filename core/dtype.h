// Element types and the one dtype dispatch point.
//   dispatch(dt, "op", [&](auto tag) { using T = typename decltype(tag)::type; ... });
// replaces a family of per-type macros; narrower sets (floating only) are the same template
// with a filter.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "core/error.h"
#include "core/half.h"

namespace whet {

enum class DType : uint8_t { f32, f64, f16, bf16, i32, i64, u8, boolean };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(const std::string& name);  // "f32", "float32", "float", ...
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}
inline bool is_half(DType t) { return t == DType::f16 || t == DType::bf16; }

template <class T>
struct TypeTag {
  using type = T;
};

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }

// Value conversion between element types: half types go through float, bool tests != 0.
template <class D, class S>
D cast_value(S v) {
  constexpr bool s_half = std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>;
  constexpr bool d_half = std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>;
  if constexpr (std::is_same_v<D, bool>) {
    if constexpr (s_half) return static_cast<float>(v) != 0.0f;
    else return v != S(0);
  } else if constexpr (s_half) {
    return static_cast<D>(static_cast<float>(v));
  } else if constexpr (d_half) {
    return D(static_cast<float>(v));
  } else {
    return static_cast<D>(v);
  }
}

enum class DTypeSet { all, floating, float_or_double, numeric };

inline bool dtype_in(DType t, DTypeSet set) {
  switch (set) {
    case DTypeSet::all: return true;
    case DTypeSet::floating: return is_floating(t);
    case DTypeSet::float_or_double: return t == DType::f32 || t == DType::f64;
    case DTypeSet::numeric: return t != DType::boolean;
  }
  return false;
}

// Calls f(TypeTag<T>{}) for the C++ type of `t`; throws naming `op` when `t` is outside `set`.
template <DTypeSet set = DTypeSet::all, class F>
decltype(auto) dispatch(DType t, const char* op, F&& f) {
  WHET_CHECK(dtype_in(t, set), op, ": dtype ", dtype_name(t), " is not supported");
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    case DType::f16: return f(TypeTag<Half>{});
    case DType::bf16: return f(TypeTag<BFloat16>{});
    case DType::i32: return f(TypeTag<int32_t>{});
    case DType::i64: return f(TypeTag<int64_t>{});
    case DType::u8: return f(TypeTag<uint8_t>{});
    case DType::boolean: return f(TypeTag<bool>{});
  }
  WHET_FAIL(op, ": unknown dtype");
}

// The set that the CPU's arithmetic kernels are compiled for: float and double. Half tensors
// reach them widened to float32 by kernels/cpu/half_adapter.h (compute in float, round once),
// which keeps CPU kernel instantiations few.
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  WHET_CHECK(t == DType::f32 || t == DType::f64, op, ": dtype ", dtype_name(t),
             " is not supported (float32 and float64 only)");
  if (t == DType::f32) return f(TypeTag<float>{});
  return f(TypeTag<double>{});
}

}  // namespace whet
