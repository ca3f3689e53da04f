// IEEE binary16 and bfloat16 storage types for the host. Arithmetic happens in float; these
// only convert (round to nearest even) and are bit-compatible with CUDA's __half and
// __nv_bfloat16, so buffers move between host and device unchanged.
#pragma once
#include <cstdint>
#include <cstring>
#ifdef __F16C__
#include <immintrin.h>
#endif

namespace whet {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(from_float(f)) {}  // NOLINT: implicit like a numeric type
  operator float() const { return to_float(bits); }

  // With F16C (x86-64-v3) finite values convert in hardware, IEEE round to nearest even as
  // below and several times faster; inf and NaN keep the portable path's exact bits.
  static uint16_t from_float(float f) {
#ifdef __F16C__
    if (float_bits(f) << 1 < 0xff000000u) return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
#endif
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return uint16_t(sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (mag >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: inf
    if (mag < 0x38800000u) {  // result is subnormal (or zero) in half
      // Adding 0.5 makes the FPU round the mantissa for us at the subnormal quantum 2^-24.
      float r = bits_float(mag) + 0.5f;
      return uint16_t(sign | (float_bits(r) - 0x3f000000u));
    }
    uint32_t odd = (mag >> 13) & 1u;
    mag += 0xc8000fffu + odd;  // rebias exponent (-112 << 23) and round to nearest even
    return uint16_t(sign | (mag >> 13));
  }
  static float to_float(uint16_t h) {
#ifdef __F16C__
    if ((h & 0x7c00u) != 0x7c00u) return _cvtsh_ss(h);
#endif
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
      float v = float(man) * (1.0f / 16777216.0f);  // man * 2^-24
      return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
  }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(from_float(f)) {}  // NOLINT
  operator float() const { return bits_float(uint32_t(bits) << 16); }

  static uint16_t from_float(float f) {
    uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
    x += 0x7fffu + ((x >> 16) & 1u);
    return uint16_t(x >> 16);
  }
};

}  // namespace whet
