// The original ggml block formats: 32 values per block, one fp16 scale (and for the _1 variants an
// fp16 minimum), 4, 5 or 8 bits per value. Quant j of a block sits in the low nibble of byte j for
// j < 16 and in the high nibble of byte j-16 otherwise; q5 keeps the fifth bits in a 32-bit mask.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"
#include "formats/half_float.h"

namespace mp::gguf_blocks {

namespace {

constexpr int kBlock = 32;

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34, "ggml block layouts");

// Levels 0..15 (or the low four bits of 0..31), two per byte.
void pack_nibbles(const uint8_t* levels, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((levels[j] & 0x0f) | ((levels[j + 16] & 0x0f) << 4));
}

void unpack_nibbles(const uint8_t* qs, int* levels) {
  for (int j = 0; j < 16; ++j) {
    levels[j] = qs[j] & 0x0f;
    levels[j + 16] = qs[j] >> 4;
  }
}

uint32_t fifth_bits(const uint8_t* levels) {
  uint32_t qh = 0;
  for (int j = 0; j < kBlock; ++j) qh |= static_cast<uint32_t>((levels[j] >> 4) & 1) << j;
  return qh;
}

void add_fifth_bits(const uint8_t qh_bytes[4], int* levels) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < kBlock; ++j) levels[j] |= static_cast<int>((qh >> j) & 1) << 4;
}

// Symmetric formats (q4_0, q5_0) without importance: the value of largest magnitude maps to the most
// negative level -2^(bits-1), the rest are rounded half up and clipped at the top level.
float symmetric_levels_ref(const float* x, int bits, uint8_t* levels) {
  const int half = 1 << (bits - 1);
  const float max = [&] {
    float amax = 0, m = 0;
    for (int j = 0; j < kBlock; ++j)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        m = x[j];
      }
    return m;
  }();
  const float d = max / -half;
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock; ++j)
    levels[j] = static_cast<uint8_t>(std::min(2 * half - 1, int{static_cast<int8_t>(x[j] * id + (half + 0.5f))}));
  return d;
}

// Asymmetric formats (q4_1, q5_1) without importance: the range [min, max] is split evenly.
void asymmetric_levels_ref(const float* x, int bits, uint8_t* levels, float* d_out, float* min_out) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  const int top = (1 << bits) - 1;
  const float d = (max - min) / top;
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    const int level = static_cast<int8_t>((x[j] - min) * id + 0.5f);  // rounds half up
    levels[j] = static_cast<uint8_t>(std::min(top, level));
  }
  *d_out = d;
  *min_out = min;
}

// Symmetric formats with importance: the weighted scale search, levels offset by nmax = 2^(bits-1).
float symmetric_levels_weighted(const float* x, const float* weights, int bits, uint8_t* levels) {
  int8_t L[kBlock];
  const float d = make_qx_quants(kBlock, 1 << (bits - 1), x, L, weights);
  for (int j = 0; j < kBlock; ++j) levels[j] = static_cast<uint8_t>(L[j]);
  return d;
}

float asymmetric_levels_weighted(const float* x, const float* weights, int bits, uint8_t* levels,
                                 float* min) {
  float negated_min;
  const float d = make_qkx_quants(kBlock, (1 << bits) - 1, x, weights, levels, &negated_min, -0.9f,
                                  0.05f, 36, false);
  *min = -negated_min;
  return d;
}

}  // namespace

void dequantize_q4_0(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const auto block = load_block<BlockQ4_0>(bytes, b);
    const float d = fp16_to_fp32(block.d);
    int levels[kBlock];
    unpack_nibbles(block.qs, levels);
    for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = (levels[j] - 8) * d;
  }
}

void quantize_q4_0(const float* in, uint8_t* out, int64_t n, const float* importance) {
  const float sigma2 = importance ? mean_square(in, n) : 0;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* x = in + b * kBlock;
    uint8_t levels[kBlock];
    float d;
    if (importance) {
      float weights[kBlock];
      importance_weights(x, importance + b * kBlock, sigma2, kBlock, weights);
      d = symmetric_levels_weighted(x, weights, 4, levels);
    } else {
      d = symmetric_levels_ref(x, 4, levels);
    }
    BlockQ4_0 block;
    block.d = fp32_to_fp16(d);
    pack_nibbles(levels, block.qs);
    store_block(out, b, block);
  }
}

void dequantize_q4_1(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const auto block = load_block<BlockQ4_1>(bytes, b);
    const float d = fp16_to_fp32(block.d), m = fp16_to_fp32(block.m);
    int levels[kBlock];
    unpack_nibbles(block.qs, levels);
    for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = levels[j] * d + m;
  }
}

void quantize_q4_1(const float* in, uint8_t* out, int64_t n, const float* importance) {
  const float sigma2 = importance ? mean_square(in, n) : 0;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* x = in + b * kBlock;
    uint8_t levels[kBlock];
    float d, min;
    if (importance) {
      float weights[kBlock];
      importance_weights(x, importance + b * kBlock, sigma2, kBlock, weights);
      d = asymmetric_levels_weighted(x, weights, 4, levels, &min);
    } else {
      asymmetric_levels_ref(x, 4, levels, &d, &min);
    }
    BlockQ4_1 block;
    block.d = fp32_to_fp16(d);
    block.m = fp32_to_fp16(min);
    pack_nibbles(levels, block.qs);
    store_block(out, b, block);
  }
}

void dequantize_q5_0(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const auto block = load_block<BlockQ5_0>(bytes, b);
    const float d = fp16_to_fp32(block.d);
    int levels[kBlock];
    unpack_nibbles(block.qs, levels);
    add_fifth_bits(block.qh, levels);
    for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = (levels[j] - 16) * d;
  }
}

void quantize_q5_0(const float* in, uint8_t* out, int64_t n, const float* importance) {
  const float sigma2 = importance ? mean_square(in, n) : 0;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* x = in + b * kBlock;
    uint8_t levels[kBlock];
    float d;
    if (importance) {
      float weights[kBlock];
      importance_weights(x, importance + b * kBlock, sigma2, kBlock, weights);
      d = symmetric_levels_weighted(x, weights, 5, levels);
    } else {
      d = symmetric_levels_ref(x, 5, levels);
    }
    BlockQ5_0 block;
    block.d = fp32_to_fp16(d);
    const uint32_t qh = fifth_bits(levels);
    std::memcpy(block.qh, &qh, 4);
    pack_nibbles(levels, block.qs);
    store_block(out, b, block);
  }
}

void dequantize_q5_1(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const auto block = load_block<BlockQ5_1>(bytes, b);
    const float d = fp16_to_fp32(block.d), m = fp16_to_fp32(block.m);
    int levels[kBlock];
    unpack_nibbles(block.qs, levels);
    add_fifth_bits(block.qh, levels);
    for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = levels[j] * d + m;
  }
}

void quantize_q5_1(const float* in, uint8_t* out, int64_t n, const float* importance) {
  const float sigma2 = importance ? mean_square(in, n) : 0;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* x = in + b * kBlock;
    uint8_t levels[kBlock];
    float d, min;
    if (importance) {
      float weights[kBlock];
      importance_weights(x, importance + b * kBlock, sigma2, kBlock, weights);
      d = asymmetric_levels_weighted(x, weights, 5, levels, &min);
    } else {
      asymmetric_levels_ref(x, 5, levels, &d, &min);
    }
    BlockQ5_1 block;
    block.d = fp32_to_fp16(d);
    block.m = fp32_to_fp16(min);
    const uint32_t qh = fifth_bits(levels);
    std::memcpy(block.qh, &qh, 4);
    pack_nibbles(levels, block.qs);
    store_block(out, b, block);
  }
}

void dequantize_q8_0(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const auto block = load_block<BlockQ8_0>(bytes, b);
    const float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = block.qs[j] * d;
  }
}

// q8_0 has no importance-weighted variant in ggml.
void quantize_q8_0(const float* in, uint8_t* out, int64_t n, const float*) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float* x = in + b * kBlock;
    float amax = 0;
    for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    BlockQ8_0 block;
    block.d = fp32_to_fp16(d);
    for (int j = 0; j < kBlock; ++j) block.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    store_block(out, b, block);
  }
}

}  // namespace mp::gguf_blocks
