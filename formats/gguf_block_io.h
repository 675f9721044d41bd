// Shared by the block codec files (internal): block structs read and written at byte offsets (copied,
// not cast, so rows at any alignment work), the row <-> blocks drivers, the codec table entries, and
// the helpers of ggml's arithmetic that several formats use.
//
// Bit-exactness with ggml depends on evaluating float expressions exactly as written: no fused
// multiply-add contraction (the default on x86-64 without -march flags that enable FMA).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "formats/gguf_types.h"

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

using RowDecoder = void (*)(const uint8_t* bytes, float* out, int64_t n);
using RowEncoder = void (*)(const float* in, uint8_t* out, int64_t n, const float* importance);
struct RowCodec {
  GgmlType type;
  RowDecoder decode;
  RowEncoder encode;
};

// Rows of independent blocks of kValues values. Encode gets a block's values and its slice of the
// importance matrix (nullptr without one).
template <class Block, int64_t kValues, void (*Decode)(const Block& block, float* out)>
void dequantize_blocks(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t b = 0; b < n / kValues; ++b) Decode(load_block<Block>(bytes, b), out + b * kValues);
}

template <class Block, int64_t kValues, void (*Encode)(const float* x, const float* importance, Block* block)>
void quantize_blocks(const float* in, uint8_t* out, int64_t n, const float* importance) {
  for (int64_t b = 0; b < n / kValues; ++b) {
    Block block;
    Encode(in + b * kValues, importance ? importance + b * kValues : nullptr, &block);
    store_block(out, b, block);
  }
}

template <class Block, int64_t kValues, void (*Decode)(const Block&, float*),
          void (*Encode)(const float*, const float*, Block*)>
constexpr RowCodec block_codec(GgmlType type) {
  return {type, dequantize_blocks<Block, kValues, Decode>, quantize_blocks<Block, kValues, Encode>};
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

inline void importance_weights(const float* x, const float* importance, float sigma2, int n, float* weights) {
  for (int j = 0; j < n; ++j) weights[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// Levels of one block of n values whose sub-blocks of `sub` values decode as scale·(L − offset) −
// min: L = nearest((x + min) / scale) + offset, clamped to [0, max_level]. Sub-blocks with scale 0
// keep the levels L holds (ggml keeps its search's levels there; they decode to −min anyway).
inline void level_block(const float* x, const float* scale, const float* min, int sub, int n, int max_level,
                        int offset, uint8_t* L) {
  for (int j = 0; j < n / sub; ++j) {
    if (!scale[j]) continue;
    for (int i = sub * j; i < sub * (j + 1); ++i) {
      const int level = nearest_int((x[i] + min[j]) / scale[j]) + offset;
      L[i] = static_cast<uint8_t>(level < 0 ? 0 : level > max_level ? max_level : level);
    }
  }
}

// The index of the level nearest to x in an ascending table of `count` levels (a power of two); a
// tie goes to the upper one. Comparing 2x with the sum of two neighbouring levels decides exactly,
// with no rounding. iq4's non-uniform levels are picked this way (ggml's best_index_int8).
inline int nearest_table_index(const int8_t* values, int count, float x) {
  const float x2 = x + x;
  int index = 0;
  for (int step = count / 2; step > 0; step /= 2) {
    const int j = index + step;
    if (x2 >= static_cast<float>(values[j - 1] + values[j])) index = j;
  }
  return index;
}

// A block type seen as a quantization grid (formats/gguf_block_grid.h). choose() fixes a block's
// stored parameters (`header_bytes` of them: fp16 scales, packed sub-block scales) from its values
// and importance with the type's own search, and reports each sub-block's decode as the decoder
// computes it: value = scale·(L − offset) − min for the uniform types, value = scale·levels[L] − min
// (min 0) for a type with a table of non-uniform levels (iq4). pack() writes the block from those
// parameters and levels 0..max_level. For the k-quants the encoder is choose, level_block, pack;
// the legacy and iq4 encoders pick their levels with the search's unrounded scale, the grid with
// the stored (fp16) one, the nearest level to what the decoder will compute.
// For the k-quants, header_of() takes the stored parameters back out of a written block (the header
// choose() would have made for it) and sub_blocks() gives their decode scale and min, so a file's
// blocks can be re-levelled on the parameters they store (nullptr for the other types).
struct BlockGridCodec {
  GgmlType type;
  int sub_values;
  int max_level;
  int offset;
  const int8_t* levels;  // max_level + 1 non-uniform levels, or nullptr for L − offset
  int header_bytes;
  void (*choose)(const float* x, const float* importance, uint8_t* header, float* scale, float* min);
  void (*pack)(const uint8_t* header, const uint8_t* levels, uint8_t* block);
  void (*header_of)(const uint8_t* block, uint8_t* header);
  void (*sub_blocks)(const uint8_t* header, float* scale, float* min);
};

// The types each codec file implements; formats/gguf_codecs.cpp gathers them.
std::vector<RowCodec> legacy_quant_codecs();   // q4_0 q4_1 q5_0 q5_1 q8_0
std::vector<RowCodec> kquant_2_3bit_codecs();  // q2_K q3_K
std::vector<RowCodec> kquant_4_6bit_codecs();  // q4_K q5_K q6_K
std::vector<RowCodec> iq4_codecs();            // iq4_nl iq4_xs
std::vector<BlockGridCodec> kquant_2_3bit_grids();  // q2_K q3_K
std::vector<BlockGridCodec> kquant_4_6bit_grids();  // q4_K q5_K q6_K
std::vector<BlockGridCodec> legacy_quant_grids();   // q4_0 q4_1 q5_0 q5_1 q8_0
std::vector<BlockGridCodec> iq4_grids();            // iq4_nl iq4_xs
void pack_legacy_levels(GgmlType type, const float* d, const float* m, const uint8_t* levels, uint8_t* out,
                        int64_t n);  // gguf_codecs.h: pack_row_levels

}  // namespace mp::gguf_blocks
