// Shared by the block codec files (internal): reading and writing one block struct at a byte offset,
// and ggml's rounding helper. Blocks are copied rather than cast so that rows at any alignment work.
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>

namespace mp::gguf_blocks {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF blocks are little-endian");

template <class Block>
Block load_block(const uint8_t* bytes, int64_t index) {
  Block block;
  std::memcpy(&block, bytes + index * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return block;
}

template <class Block>
void store_block(uint8_t* bytes, int64_t index, const Block& block) {
  std::memcpy(bytes + index * static_cast<int64_t>(sizeof(Block)), &block, sizeof(Block));
}

// Round to nearest, ties to even, the way ggml does it: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits. Valid for |value| < 2^22, which every caller guarantees.
inline int nearest_int(float value) {
  const float shifted = value + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Importance-weighted quantization weighs value j by importance[j] * sqrt(sigma² + x[j]²), where
// sigma² is a mean square of the values around it (the row or the super-block, depending on type).
inline float mean_square(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

inline void importance_weights(const float* x, const float* importance, float sigma2, int n,
                               float* weights) {
  for (int j = 0; j < n; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// The per-type codecs that formats/gguf_codecs.cpp dispatches to. Decoders: (bytes, out, n).
// Encoders: (in, out, n, importance or nullptr).
#define MP_GGUF_BLOCK_CODEC(name)                                          \
  void dequantize_##name(const uint8_t* bytes, float* out, int64_t n);    \
  void quantize_##name(const float* in, uint8_t* out, int64_t n, const float* importance);
MP_GGUF_BLOCK_CODEC(q4_0)
MP_GGUF_BLOCK_CODEC(q4_1)
MP_GGUF_BLOCK_CODEC(q5_0)
MP_GGUF_BLOCK_CODEC(q5_1)
MP_GGUF_BLOCK_CODEC(q8_0)
MP_GGUF_BLOCK_CODEC(q2_K)
MP_GGUF_BLOCK_CODEC(q3_K)
MP_GGUF_BLOCK_CODEC(q4_K)
MP_GGUF_BLOCK_CODEC(q5_K)
MP_GGUF_BLOCK_CODEC(q6_K)
MP_GGUF_BLOCK_CODEC(iq4_nl)
MP_GGUF_BLOCK_CODEC(iq4_xs)
#undef MP_GGUF_BLOCK_CODEC

}  // namespace mp::gguf_blocks
