// q2_K and q3_K: super-blocks of 256 values in 16 sub-blocks of 16, two low bits per value packed
// four to a byte (byte l of each 128-value half holds values l, l+32, l+64, l+96).
// q2_K: x ≈ d·sc·L - dmin·m with 4-bit sub-block scale sc and minimum m, levels 0..3.
// q3_K: x ≈ d·(sc-32)·(L-4) with 6-bit sub-block scales, the third bit of L in a separate mask.
#include <algorithm>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"
#include "formats/half_float.h"

namespace mp::gguf_blocks {

namespace {

constexpr int kSuper = 256, kSub = 16, kSubBlocks = kSuper / kSub;

struct BlockQ2K {
  uint8_t scales[16];  // low nibble: scale, high nibble: minimum
  uint8_t qs[64];
  uint16_t d, dmin;
};
struct BlockQ3K {
  uint8_t hmask[32];  // value j's third bit is bit j/32 of hmask[j%32]
  uint8_t qs[64];
  uint8_t scales[12];  // 16 six-bit scales
  uint16_t d;
};
static_assert(sizeof(BlockQ2K) == 84 && sizeof(BlockQ3K) == 110, "ggml block layouts");

void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int half = 0; half < kSuper; half += 128)
    for (int l = 0; l < 32; ++l)
      qs[half / 4 + l] = static_cast<uint8_t>((L[half + l] & 3) | ((L[half + l + 32] & 3) << 2) |
                                              ((L[half + l + 64] & 3) << 4) | ((L[half + l + 96] & 3) << 6));
}

void unpack_2bit(const uint8_t* qs, int* L) {
  for (int j = 0; j < kSuper; ++j) {
    const int half = j / 128, group = (j % 128) / 32, l = j % 32;
    L[j] = (qs[half * 32 + l] >> (2 * group)) & 3;
  }
}

// ---------------------------------------------------------------------------------------- q2_K

// Sub-block scales and minimums, without importance: fit each sub-block (absolute error, |x|
// weights), then map the largest scale and the largest minimum to 15.
void q2_K_scales_ref(const float* x, uint8_t* L, BlockQ2K* block) {
  float scales[kSubBlocks], mins[kSubBlocks], weights[kSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(x[kSub * j + l]);
    scales[j] =
        make_qkx_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], -0.5f, 0.1f, 15, true);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float q4scale = 15.f;
  for (int j = 0; j < kSubBlocks; ++j) block->scales[j] = 0;
  block->d = block->dmin = fp32_to_fp16(0.f);
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < kSubBlocks; ++j)
      block->scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    block->d = fp32_to_fp16(max_scale / q4scale);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < kSubBlocks; ++j)
      block->scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
    block->dmin = fp32_to_fp16(max_min / q4scale);
  }
}

// With importance: weighted least-squares fits, and the 4-bit scales and minimums themselves chosen
// by a weighted search (make_qp_quants) instead of max-scaling.
void q2_K_scales_weighted(const float* x, const float* importance, uint8_t* L, BlockQ2K* block) {
  float scales[kSubBlocks], mins[kSubBlocks], sw[kSubBlocks], weights[kSub];
  const float sigma2 = mean_square(x, kSuper);
  for (int j = 0; j < kSubBlocks; ++j) {
    importance_weights(x + kSub * j, importance + kSub * j, sigma2, kSub, weights);
    sw[j] = 0;
    for (int l = 0; l < kSub; ++l) sw[j] += weights[l];
    scales[j] =
        make_qkx_quants(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j], -0.9f, 0.05f, 36, false);
  }
  uint8_t Ls[kSubBlocks], Lm[kSubBlocks];
  block->d = fp32_to_fp16(make_qp_quants(kSubBlocks, 15, scales, Ls, sw));
  block->dmin = fp32_to_fp16(make_qp_quants(kSubBlocks, 15, mins, Lm, sw));
  for (int j = 0; j < kSubBlocks; ++j) block->scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
}

// ---------------------------------------------------------------------------------------- q3_K

int q3_K_scale(const uint8_t* scales, int j) {
  const int low = j < 8 ? scales[j] & 0xf : scales[j - 8] >> 4;
  const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low | (high << 4);
}

void set_q3_K_scales(const int* levels, uint8_t* scales) {
  std::fill(scales, scales + 12, uint8_t{0});
  for (int j = 0; j < kSubBlocks; ++j) {
    const int l = levels[j];
    if (j < 8)
      scales[j] = static_cast<uint8_t>(l & 0xf);
    else
      scales[j - 8] |= static_cast<uint8_t>((l & 0xf) << 4);
    scales[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
  }
}

// Without importance: per sub-block scales from make_q3_quants, then the scale of largest magnitude
// maps to -32 and the others are rounded on that grid.
void q3_K_scales_ref(const float* x, int8_t* L, BlockQ3K* block) {
  float scales[kSubBlocks];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    scales[j] = make_q3_quants(kSub, 4, x + kSub * j, L + kSub * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  int levels[kSubBlocks] = {};
  block->d = fp32_to_fp16(0.f);
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < kSubBlocks; ++j) {
      const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      levels[j] = std::max(-32, std::min(31, l)) + 32;
    }
    block->d = fp32_to_fp16(1 / iscale);
  }
  set_q3_K_scales(levels, block->scales);
}

void q3_K_scales_weighted(const float* x, const float* importance, int8_t* L, BlockQ3K* block) {
  float scales[kSubBlocks], sw[kSubBlocks], weights[kSub];
  const float sigma2 = 2 * mean_square(x, kSuper);
  for (int j = 0; j < kSubBlocks; ++j) {
    importance_weights(x + kSub * j, importance + kSub * j, sigma2, kSub, weights);
    sw[j] = 0;
    for (int l = 0; l < kSub; ++l) sw[j] += weights[l];
    scales[j] = make_qx_quants(kSub, 4, x + kSub * j, L + kSub * j, weights);
  }
  int8_t Ls[kSubBlocks];
  const float d_block = make_qx_quants(kSubBlocks, 32, scales, Ls, sw);
  int levels[kSubBlocks];
  for (int j = 0; j < kSubBlocks; ++j) levels[j] = Ls[j];
  set_q3_K_scales(levels, block->scales);
  block->d = fp32_to_fp16(d_block);
}

// The grid view stores a whole block with its parameters set (its level bytes are filled by pack).
void choose_q2_K(const float* x, const float* importance, uint8_t* header, uint8_t* L) {
  BlockQ2K block{};
  importance ? q2_K_scales_weighted(x, importance, L, &block) : q2_K_scales_ref(x, L, &block);
  std::memcpy(header, &block, sizeof block);
}

// Each sub-block's decode: value = scale·L − min with scale = d·sc and min = dmin·m.
void q2_K_sub_blocks(const uint8_t* header, float* scale, float* min) {
  BlockQ2K block;
  std::memcpy(&block, header, sizeof block);
  const float d = fp16_to_fp32(block.d), dmin = fp16_to_fp32(block.dmin);
  for (int j = 0; j < kSubBlocks; ++j) {
    scale[j] = d * (block.scales[j] & 0xf);
    min[j] = dmin * (block.scales[j] >> 4);
  }
}

void pack_q2_K(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ2K block;
  std::memcpy(&block, header, sizeof block);
  pack_2bit(L, block.qs);
  std::memcpy(out, &block, sizeof block);
}

void choose_q3_K(const float* x, const float* importance, uint8_t* header, uint8_t* levels) {
  BlockQ3K block{};
  int8_t L[kSuper];
  importance ? q3_K_scales_weighted(x, importance, L, &block) : q3_K_scales_ref(x, L, &block);
  for (int j = 0; j < kSuper; ++j) levels[j] = static_cast<uint8_t>(L[j]);
  std::memcpy(header, &block, sizeof block);
}

// Each sub-block's decode: value = scale·(L − 4) with scale = d·(sc − 32).
void q3_K_sub_blocks(const uint8_t* header, float* scale, float* min) {
  BlockQ3K block;
  std::memcpy(&block, header, sizeof block);
  const float d = fp16_to_fp32(block.d);
  for (int j = 0; j < kSubBlocks; ++j) {
    scale[j] = d * static_cast<int8_t>(q3_K_scale(block.scales, j) - 32);
    min[j] = 0;
  }
}

// Levels 0..7: the third bit goes to hmask, the low two bits to qs.
void pack_q3_K(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ3K block;
  std::memcpy(&block, header, sizeof block);
  uint8_t low[kSuper];
  std::fill(block.hmask, block.hmask + 32, uint8_t{0});
  for (int j = 0; j < kSuper; ++j) {
    if (L[j] > 3) block.hmask[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
    low[j] = static_cast<uint8_t>(L[j] & 3);
  }
  pack_2bit(low, block.qs);
  std::memcpy(out, &block, sizeof block);
}

// A written block's header: the block with its level bytes cleared, as choose() leaves them.
void q2_K_header_of(const uint8_t* bytes, uint8_t* header) {
  BlockQ2K block;
  std::memcpy(&block, bytes, sizeof block);
  std::fill(block.qs, block.qs + 64, uint8_t{0});
  std::memcpy(header, &block, sizeof block);
}

void q3_K_header_of(const uint8_t* bytes, uint8_t* header) {
  BlockQ3K block;
  std::memcpy(&block, bytes, sizeof block);
  std::fill(block.hmask, block.hmask + 32, uint8_t{0});
  std::fill(block.qs, block.qs + 64, uint8_t{0});
  std::memcpy(header, &block, sizeof block);
}

template <void (*Choose)(const float*, const float*, uint8_t*, uint8_t*),
          void (*SubBlocks)(const uint8_t*, float*, float*)>
void choose_grid(const float* x, const float* importance, uint8_t* header, float* scale, float* min) {
  uint8_t L[kSuper];
  Choose(x, importance, header, L);
  SubBlocks(header, scale, min);
}

// Every value gets its level against the parameters as they will be decoded.
template <class Block, void (*Choose)(const float*, const float*, uint8_t*, uint8_t*),
          void (*SubBlocks)(const uint8_t*, float*, float*), void (*Pack)(const uint8_t*, const uint8_t*, uint8_t*),
          int kMaxLevel, int kOffset>
void encode(const float* x, const float* importance, Block* block) {
  uint8_t header[sizeof(Block)], L[kSuper];
  float scale[kSubBlocks], min[kSubBlocks];
  Choose(x, importance, header, L);
  SubBlocks(header, scale, min);
  level_block(x, scale, min, kSub, kSuper, kMaxLevel, kOffset, L);
  Pack(header, L, reinterpret_cast<uint8_t*>(block));
}

void decode_q2_K(const BlockQ2K& block, float* out) {
  const float d = fp16_to_fp32(block.d), min = fp16_to_fp32(block.dmin);
  int L[kSuper];
  unpack_2bit(block.qs, L);
  for (int j = 0; j < kSuper; ++j) {
    const uint8_t sc = block.scales[j / kSub];
    const float dl = d * (sc & 0xf), ml = min * (sc >> 4);
    out[j] = dl * L[j] - ml;
  }
}

void decode_q3_K(const BlockQ3K& block, float* out) {
  const float d_all = fp16_to_fp32(block.d);
  int L[kSuper];
  unpack_2bit(block.qs, L);
  for (int j = 0; j < kSuper; ++j) {
    const float dl = d_all * (q3_K_scale(block.scales, j / kSub) - 32);
    const bool high = (block.hmask[j % 32] >> (j / 32)) & 1;
    out[j] = dl * (L[j] - (high ? 0 : 4));
  }
}

}  // namespace

std::vector<RowCodec> kquant_2_3bit_codecs() {
  return {block_codec<BlockQ2K, kSuper, decode_q2_K,
                      encode<BlockQ2K, choose_q2_K, q2_K_sub_blocks, pack_q2_K, 3, 0>>(GgmlType::Q2_K),
          block_codec<BlockQ3K, kSuper, decode_q3_K,
                      encode<BlockQ3K, choose_q3_K, q3_K_sub_blocks, pack_q3_K, 7, 4>>(GgmlType::Q3_K)};
}

std::vector<BlockGridCodec> kquant_2_3bit_grids() {
  return {{GgmlType::Q2_K, kSub, 3, 0, nullptr, sizeof(BlockQ2K), choose_grid<choose_q2_K, q2_K_sub_blocks>, pack_q2_K,
           q2_K_header_of, q2_K_sub_blocks},
          {GgmlType::Q3_K, kSub, 7, 4, nullptr, sizeof(BlockQ3K), choose_grid<choose_q3_K, q3_K_sub_blocks>, pack_q3_K,
           q3_K_header_of, q3_K_sub_blocks}};
}

}  // namespace mp::gguf_blocks
