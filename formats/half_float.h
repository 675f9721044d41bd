// IEEE half (fp16) and bfloat16 conversions, rounding exactly as ggml does: round to nearest, ties
// to even; NaN stays NaN (quiet). Quantized GGUF blocks store their scales as fp16, so a scale that
// rounds differently changes every byte after it.
#pragma once
#include <cstdint>

namespace mp {

uint16_t fp32_to_fp16(float value);
float fp16_to_fp32(uint16_t bits);
uint16_t fp32_to_bf16(float value);
float bf16_to_fp32(uint16_t bits);

}  // namespace mp
