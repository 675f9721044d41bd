// The original ggml block formats: 32 values per block, one fp16 scale (and for the _1 variants an
// fp16 minimum), 4, 5 or 8 bits per value. Quant j of a block sits in the low nibble of byte j for
// j < 16 and in the high nibble of byte j-16 otherwise; q5 keeps the fifth bits in a 32-bit mask.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"
#include "formats/half_float.h"
#include "lib/base/error.h"

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
                  sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34,
              "ggml block layouts");

// Levels 0..15 (or the low four bits of 0..31), two per byte.
void pack_nibbles(const uint8_t* levels, uint8_t* qs) {
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>((levels[j] & 0x0f) | ((levels[j + 16] & 0x0f) << 4));
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

// The levels of one block and the scale (and minimum) they go with, before packing.
struct BlockLevels {
  float d = 0, min = 0;
  uint8_t L[kBlock];
};

// Symmetric formats (q4_0, q5_0). Without importance, the value of largest magnitude maps to the most
// negative level -2^(bits-1) and the rest are rounded half up, clipped at the top level. With
// importance, the weighted scale search picks the scale.
BlockLevels symmetric_levels(const float* x, const float* weights, int bits) {
  const int half = 1 << (bits - 1);
  BlockLevels out;
  if (weights) {
    int8_t L[kBlock];
    out.d = make_qx_quants(kBlock, half, x, L, weights);
    for (int j = 0; j < kBlock; ++j) out.L[j] = static_cast<uint8_t>(L[j]);
    return out;
  }
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  out.d = max / -half;
  const float id = out.d ? 1.0f / out.d : 0.0f;
  for (int j = 0; j < kBlock; ++j)
    out.L[j] =
        static_cast<uint8_t>(std::min(2 * half - 1, int{static_cast<int8_t>(x[j] * id + (half + 0.5f))}));
  return out;
}

// Asymmetric formats (q4_1, q5_1). Without importance the range [min, max] is split evenly; with it,
// the weighted search fits scale and minimum together.
BlockLevels asymmetric_levels(const float* x, const float* weights, int bits) {
  const int top = (1 << bits) - 1;
  BlockLevels out;
  if (weights) {
    float negated_min;
    out.d = make_qkx_quants(kBlock, top, x, weights, out.L, &negated_min, -0.9f, 0.05f, 36, false);
    out.min = -negated_min;
    return out;
  }
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  out.d = (max - min) / top;
  out.min = min;
  const float id = out.d ? 1.0f / out.d : 0.0f;
  for (int j = 0; j < kBlock; ++j)
    out.L[j] = static_cast<uint8_t>(std::min(top, int{static_cast<int8_t>((x[j] - min) * id + 0.5f)}));
  return out;
}

// q4_0, q4_1, q5_0 and q5_1 differ only in the bits per level and in storing a minimum.
template <class Block, int kBits>
void put_levels(const uint8_t* L, Block& block) {
  if constexpr (kBits == 5) {
    const uint32_t qh = fifth_bits(L);
    std::memcpy(block.qh, &qh, 4);
  }
  pack_nibbles(L, block.qs);
}

template <class Block, int kBits, bool kAsymmetric>
void store_levels(const BlockLevels& levels, uint8_t* out, int64_t index) {
  Block block;
  block.d = fp32_to_fp16(levels.d);
  if constexpr (kAsymmetric) block.m = fp32_to_fp16(levels.min);
  put_levels<Block, kBits>(levels.L, block);
  store_block(out, index, block);
}

// The type's search on one block: the reference one without importance, the weighted one with it.
template <int kBits, bool kAsymmetric>
BlockLevels search_block(const float* x, const float* importance, float sigma2) {
  float weights[kBlock];
  if (importance) importance_weights(x, importance, sigma2, kBlock, weights);
  const float* w = importance ? weights : nullptr;
  return kAsymmetric ? asymmetric_levels(x, w, kBits) : symmetric_levels(x, w, kBits);
}

// ggml weighs the values by the mean square of the whole row.
template <class Block, int kBits, bool kAsymmetric>
void quantize_legacy(const float* in, uint8_t* out, int64_t n, const float* importance) {
  const float sigma2 = importance ? mean_square(in, n) : 0;
  for (int64_t b = 0; b < n / kBlock; ++b)
    store_levels<Block, kBits, kAsymmetric>(
        search_block<kBits, kAsymmetric>(in + b * kBlock, importance ? importance + b * kBlock : nullptr, sigma2),
        out, b);
}

// As a grid (BlockGridCodec): the stored fp16 d (and m) of the block's search, and the decode
// value = d·(L − 2^(bits−1)) or d·L + m. GPTQ hands the grid one block at a time, so the importance
// weights take the mean square of the block rather than of the row.
template <int kBits, bool kAsymmetric>
void choose_legacy(const float* x, const float* importance, uint8_t* header, float* scale, float* min) {
  const BlockLevels levels =
      search_block<kBits, kAsymmetric>(x, importance, importance ? mean_square(x, kBlock) : 0.0f);
  const uint16_t d = fp32_to_fp16(levels.d);
  std::memcpy(header, &d, 2);
  *scale = fp16_to_fp32(d);
  *min = 0;
  if constexpr (kAsymmetric) {
    const uint16_t m = fp32_to_fp16(levels.min);
    std::memcpy(header + 2, &m, 2);
    *min = -fp16_to_fp32(m);
  }
}

// The stored d (and m) open every legacy block struct.
template <class Block, int kBits, bool kAsymmetric>
void pack_legacy(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  Block block;
  std::memcpy(&block, header, kAsymmetric ? 4 : 2);
  put_levels<Block, kBits>(L, block);
  std::memcpy(out, &block, sizeof block);
}

template <class Block, int kBits, bool kAsymmetric>
void pack_levels(const float* d, const float* m, const uint8_t* levels, uint8_t* out, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b) {
    BlockLevels block{d[b], kAsymmetric ? m[b] : 0.0f, {}};
    std::memcpy(block.L, levels + b * kBlock, kBlock);
    store_levels<Block, kBits, kAsymmetric>(block, out, b);
  }
}

template <class Block, int kBits, bool kAsymmetric>
void decode_legacy(const Block& block, float* out) {
  const float d = fp16_to_fp32(block.d);
  int levels[kBlock];
  unpack_nibbles(block.qs, levels);
  if constexpr (kBits == 5) add_fifth_bits(block.qh, levels);
  if constexpr (kAsymmetric) {
    const float m = fp16_to_fp32(block.m);
    for (int j = 0; j < kBlock; ++j) out[j] = levels[j] * d + m;
  } else {
    for (int j = 0; j < kBlock; ++j) out[j] = (levels[j] - (1 << (kBits - 1))) * d;
  }
}

void decode_q8_0(const BlockQ8_0& block, float* out) {
  const float d = fp16_to_fp32(block.d);
  for (int j = 0; j < kBlock; ++j) out[j] = block.qs[j] * d;
}

// q8_0 has no importance-weighted variant in ggml: the largest magnitude maps to ±127.
float q8_0_scale(const float* x) {
  float amax = 0;
  for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax / 127;
}

void encode_q8_0(const float* x, const float*, BlockQ8_0* block) {
  const float d = q8_0_scale(x);
  const float id = d ? 1.0f / d : 0.0f;
  block->d = fp32_to_fp16(d);
  for (int j = 0; j < kBlock; ++j) block->qs[j] = static_cast<int8_t>(std::round(x[j] * id));
}

// As a grid: levels L = q + 127 in 0..254, so that the codes stay within the encoder's ±127.
constexpr int kQ8Offset = 127;

void choose_q8_0(const float* x, const float*, uint8_t* header, float* scale, float* min) {
  const uint16_t d = fp32_to_fp16(q8_0_scale(x));
  std::memcpy(header, &d, 2);
  *scale = fp16_to_fp32(d);
  *min = 0;
}

void pack_q8_0(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ8_0 block;
  std::memcpy(&block.d, header, 2);
  for (int j = 0; j < kBlock; ++j) block.qs[j] = static_cast<int8_t>(L[j] - kQ8Offset);
  std::memcpy(out, &block, sizeof block);
}

}  // namespace

void pack_legacy_levels(GgmlType type, const float* d, const float* m, const uint8_t* levels, uint8_t* out,
                        int64_t n) {
  switch (type) {
    case GgmlType::Q4_0: return pack_levels<BlockQ4_0, 4, false>(d, m, levels, out, n);
    case GgmlType::Q4_1: return pack_levels<BlockQ4_1, 4, true>(d, m, levels, out, n);
    case GgmlType::Q5_0: return pack_levels<BlockQ5_0, 5, false>(d, m, levels, out, n);
    case GgmlType::Q5_1: return pack_levels<BlockQ5_1, 5, true>(d, m, levels, out, n);
    default: fail_runtime(std::string("pack_legacy_levels: ") + ggml_type_name(type) + " is not q4_0/q4_1/q5_0/q5_1");
  }
}

std::vector<RowCodec> legacy_quant_codecs() {
  return {
      {GgmlType::Q4_0, dequantize_blocks<BlockQ4_0, kBlock, decode_legacy<BlockQ4_0, 4, false>>,
       quantize_legacy<BlockQ4_0, 4, false>},
      {GgmlType::Q4_1, dequantize_blocks<BlockQ4_1, kBlock, decode_legacy<BlockQ4_1, 4, true>>,
       quantize_legacy<BlockQ4_1, 4, true>},
      {GgmlType::Q5_0, dequantize_blocks<BlockQ5_0, kBlock, decode_legacy<BlockQ5_0, 5, false>>,
       quantize_legacy<BlockQ5_0, 5, false>},
      {GgmlType::Q5_1, dequantize_blocks<BlockQ5_1, kBlock, decode_legacy<BlockQ5_1, 5, true>>,
       quantize_legacy<BlockQ5_1, 5, true>},
      block_codec<BlockQ8_0, kBlock, decode_q8_0, encode_q8_0>(GgmlType::Q8_0),
  };
}

std::vector<BlockGridCodec> legacy_quant_grids() {
  return {{GgmlType::Q4_0, kBlock, 15, 8, nullptr, 2, choose_legacy<4, false>, pack_legacy<BlockQ4_0, 4, false>},
          {GgmlType::Q4_1, kBlock, 15, 0, nullptr, 4, choose_legacy<4, true>, pack_legacy<BlockQ4_1, 4, true>},
          {GgmlType::Q5_0, kBlock, 31, 16, nullptr, 2, choose_legacy<5, false>, pack_legacy<BlockQ5_0, 5, false>},
          {GgmlType::Q5_1, kBlock, 31, 0, nullptr, 4, choose_legacy<5, true>, pack_legacy<BlockQ5_1, 5, true>},
          {GgmlType::Q8_0, kBlock, 2 * kQ8Offset, kQ8Offset, nullptr, 2, choose_q8_0, pack_q8_0}};
}

}  // namespace mp::gguf_blocks
