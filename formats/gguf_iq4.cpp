// iq4_nl and iq4_xs: 4-bit indices into a fixed non-uniform table of 16 levels, 32 values per block.
// iq4_nl stores one fp16 scale per block; iq4_xs groups 8 blocks into a 256-value super-block with
// one fp16 scale and a 6-bit signed multiplier per block. Nibble layout as in q4_0.
#include <algorithm>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"
#include "formats/half_float.h"

namespace mp::gguf_blocks {

namespace {

constexpr int kBlock = 32, kLevels = 16;
// The levels ggml fitted to the distribution of LLM weights (kvalues_iq4nl).
constexpr int8_t kValues[kLevels] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};
// ggml's quantizer refines each block scale over 2·kTries+1 candidates.
constexpr int kTries = 7;

struct BlockIQ4NL {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockIQ4XS {
  uint16_t d;
  uint16_t scales_h;    // top 2 bits of the 8 block multipliers
  uint8_t scales_l[4];  // low 4 bits, two per byte
  uint8_t qs[128];
};
static_assert(sizeof(BlockIQ4NL) == 18 && sizeof(BlockIQ4XS) == 136, "ggml block layouts");

int best_index(float x) { return nearest_table_index(kValues, kLevels, x); }

// The best scale for one block of 32: start from the scale that maps the largest magnitude to the
// outermost level, then keep whichever candidate maximizes (Σ w·q·x)² / Σ w·q², all levels chosen by
// best_index. Returns 0 for an all-zero block.
float block_scale(const float* x, const float* weights, uint8_t* L) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + kBlock, uint8_t{0});
    return 0;
  }
  auto fit = [&](float id, float* sumqx, float* sumq2, bool store) {
    *sumqx = *sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const int l = best_index(id * x[j]);
      if (store) L[j] = static_cast<uint8_t>(l);
      const float q = kValues[l];
      *sumqx += weights[j] * q * x[j];
      *sumq2 += weights[j] * q * q;
    }
  };
  float sumqx, sumq2;
  fit(1 / (-max / kValues[0]), &sumqx, &sumq2, true);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -kTries; itry <= kTries; ++itry) {
    fit((itry + kValues[0]) / max, &sumqx, &sumq2, false);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Per-value weights: importance · sqrt(sigma² + x²) with sigma² twice the mean square of the
// super-block, or x² without importance.
void value_weights(const float* x, const float* importance, float sigma2, float* weights) {
  if (importance)
    importance_weights(x, importance, sigma2, kBlock, weights);
  else
    for (int j = 0; j < kBlock; ++j) weights[j] = x[j] * x[j];
}

void levels_for_scale(const float* x, float d, uint8_t* L) {
  const float id = d ? 1 / d : 0.f;
  for (int j = 0; j < kBlock; ++j) L[j] = static_cast<uint8_t>(best_index(id * x[j]));
}

void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

void dequantize_block(const uint8_t* qs, float d, float* out) {
  for (int j = 0; j < 16; ++j) {
    out[j] = d * kValues[qs[j] & 0xf];
    out[j + 16] = d * kValues[qs[j] >> 4];
  }
}

void decode_iq4_nl(const BlockIQ4NL& block, float* out) {
  dequantize_block(block.qs, fp16_to_fp32(block.d), out);
}

// The weights' sigma² is taken over the block itself.
float iq4_nl_scale(const float* x, const float* importance) {
  float weights[kBlock];
  value_weights(x, importance, 2 * mean_square(x, kBlock), weights);
  uint8_t unused[kBlock];
  return block_scale(x, weights, unused);
}

void encode_iq4_nl(const float* x, const float* importance, BlockIQ4NL* block) {
  const float d = iq4_nl_scale(x, importance);
  block->d = fp32_to_fp16(d);
  uint8_t L[kBlock];
  levels_for_scale(x, d, L);
  pack_nibbles(L, block->qs);
}

// As a grid (BlockGridCodec): the stored fp16 d, each value decoding as d·kValues[L].
void choose_iq4_nl(const float* x, const float* importance, uint8_t* header, float* scale, float* min) {
  const uint16_t d = fp32_to_fp16(iq4_nl_scale(x, importance));
  std::memcpy(header, &d, 2);
  *scale = fp16_to_fp32(d);
  *min = 0;
}

void pack_iq4_nl(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockIQ4NL block;
  std::memcpy(&block.d, header, 2);
  pack_nibbles(L, block.qs);
  std::memcpy(out, &block, sizeof block);
}

constexpr int kXsBlocks = sizeof(BlockIQ4XS::scales_l) * 2, kXsSuper = kBlock * kXsBlocks;
// iq4_xs stored parameters: d, scales_h and scales_l, which open the block struct.
constexpr int kXsHeader = 8;

int xs_multiplier(const BlockIQ4XS& block, int ib) {
  return (((block.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((block.scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

void decode_iq4_xs(const BlockIQ4XS& block, float* out) {
  const float d = fp16_to_fp32(block.d);
  for (int ib = 0; ib < kXsBlocks; ++ib)
    dequantize_block(block.qs + 16 * ib, d * xs_multiplier(block, ib), out + kBlock * ib);
}

// The super-block scale d (unrounded) and the block multipliers l in -32..31: the block scale of
// largest magnitude maps to -32. The header (d as fp16 and the packed multipliers) goes to `block`.
float choose_iq4_xs_scales(const float* xs, const float* importance, BlockIQ4XS* block, int* multipliers) {
  const float sigma2 = 2 * mean_square(xs, kXsSuper);
  float scales[kXsBlocks];
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < kXsBlocks; ++ib) {
    float weights[kBlock];
    uint8_t unused[kBlock];
    value_weights(xs + kBlock * ib, importance ? importance + kBlock * ib : nullptr, sigma2, weights);
    scales[ib] = block_scale(xs + kBlock * ib, weights, unused);
    if (std::fabs(scales[ib]) > amax_scale) {
      amax_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  *block = {};
  const float d = -max_scale / 32;
  block->d = fp32_to_fp16(d);
  const float id = d ? 1 / d : 0.f;
  for (int ib = 0; ib < kXsBlocks; ++ib) {
    multipliers[ib] = std::max(-32, std::min(31, nearest_int(id * scales[ib])));
    const int biased = multipliers[ib] + 32;
    block->scales_l[ib / 2] |= static_cast<uint8_t>((biased & 0xf) << (4 * (ib % 2)));
    block->scales_h |= static_cast<uint16_t>((biased >> 4) << (2 * ib));
  }
  return d;
}

// Levels are re-picked against each block's rounded scale d·l, d still unrounded as in ggml.
void encode_iq4_xs(const float* xs, const float* importance, BlockIQ4XS* block) {
  int multipliers[kXsBlocks];
  const float d = choose_iq4_xs_scales(xs, importance, block, multipliers);
  for (int ib = 0; ib < kXsBlocks; ++ib) {
    uint8_t L[kBlock];
    levels_for_scale(xs + kBlock * ib, d * multipliers[ib], L);
    pack_nibbles(L, block->qs + 16 * ib);
  }
}

// As a grid: block ib decodes as fp16(d)·l·kValues[L], as the decoder computes it.
void choose_iq4_xs(const float* xs, const float* importance, uint8_t* header, float* scale, float* min) {
  BlockIQ4XS block;
  int multipliers[kXsBlocks];
  choose_iq4_xs_scales(xs, importance, &block, multipliers);
  std::memcpy(header, &block, kXsHeader);
  const float d = fp16_to_fp32(block.d);
  for (int ib = 0; ib < kXsBlocks; ++ib) {
    scale[ib] = d * xs_multiplier(block, ib);
    min[ib] = 0;
  }
}

void pack_iq4_xs(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockIQ4XS block;
  std::memcpy(&block, header, kXsHeader);
  for (int ib = 0; ib < kXsBlocks; ++ib) pack_nibbles(L + kBlock * ib, block.qs + 16 * ib);
  std::memcpy(out, &block, sizeof block);
}

}  // namespace

std::vector<RowCodec> iq4_codecs() {
  return {block_codec<BlockIQ4NL, kBlock, decode_iq4_nl, encode_iq4_nl>(GgmlType::IQ4_NL),
          block_codec<BlockIQ4XS, kXsSuper, decode_iq4_xs, encode_iq4_xs>(GgmlType::IQ4_XS)};
}

std::vector<BlockGridCodec> iq4_grids() {
  return {{GgmlType::IQ4_NL, kBlock, kLevels - 1, 0, kValues, 2, choose_iq4_nl, pack_iq4_nl},
          {GgmlType::IQ4_XS, kBlock, kLevels - 1, 0, kValues, kXsHeader, choose_iq4_xs, pack_iq4_xs}};
}

}  // namespace mp::gguf_blocks
