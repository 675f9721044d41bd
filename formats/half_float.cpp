#include "formats/half_float.h"

#include <cmath>
#include <cstring>

namespace mp {

namespace {

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float float_of(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

constexpr uint32_t kFloatInfinity = 0x7f800000;

}  // namespace

uint16_t fp32_to_fp16(float value) {
  const uint32_t bits = bits_of(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > kFloatInfinity) return sign | 0x7e00;
  // 65520 is halfway between the largest half (65504, odd mantissa) and 65536: ties go to infinity.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  if (magnitude >= 0x38800000) {  // a normal half: drop 13 mantissa bits, ties to even
    const uint32_t rounded = magnitude + 0x0fff + ((magnitude >> 13) & 1);
    return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);  // rebias 127 -> 15
  }
  // Half subnormals count units of 2^-24; the scaling is exact, nearbyint rounds ties to even, and
  // a result of 1024 is exactly the encoding of the smallest normal half.
  return sign | static_cast<uint16_t>(std::nearbyint(std::fabs(value) * 16777216.0f));
}

float fp16_to_fp32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) / 16777216.0f;  // exact
    return float_of(bits_of(magnitude) | sign);
  }
  if (exponent == 0x1f) return float_of(sign | kFloatInfinity | (mantissa << 13));
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t fp32_to_bf16(float value) {
  const uint32_t bits = bits_of(value);
  if ((bits & 0x7fffffff) > kFloatInfinity) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

float bf16_to_fp32(uint16_t bits) { return float_of(static_cast<uint32_t>(bits) << 16); }

}  // namespace mp
