// q4_K, q5_K and q6_K: super-blocks of 256 values.
// q4_K / q5_K: 8 sub-blocks of 32, x ≈ d·sc·L - dmin·m with 6-bit sub-block scales sc and minimums
// m packed into 12 bytes, levels 0..15 (0..31 with a fifth bit per value in qh).
// q6_K: 16 sub-blocks of 16, x ≈ d·sc·(L-32) with signed 8-bit sub-block scales, levels 0..63.
#include <algorithm>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"
#include "formats/half_float.h"

namespace mp::gguf_blocks {

namespace {

constexpr int kSuper = 256;

struct BlockQ4K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];  // value j's fifth bit is bit j/32 of qh[j%32]
  uint8_t qs[128];
};
struct BlockQ6K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ4K) == 144 && sizeof(BlockQ5K) == 176 && sizeof(BlockQ6K) == 210,
              "ggml block layouts");

// ----------------------------------------------------------------------- q4_K and q5_K shared

constexpr int kSub = 32, kSubBlocks = kSuper / kSub;

// Sub-blocks 0-3 keep scale and minimum in the low 6 bits of bytes 0-3 and 4-7; sub-blocks 4-7 keep
// their low 4 bits in bytes 8-11 and their top 2 bits in the spare top bits of bytes 0-7.
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void set_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  std::fill(q, q + 12, uint8_t{0});
  for (int j = 0; j < kSubBlocks; ++j) {
    if (j < 4) {
      q[j] = ls[j];
      q[j + 4] = lm[j];
    } else {
      q[j + 4] = static_cast<uint8_t>((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
      q[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      q[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

struct ScalesMins {
  uint16_t d, dmin;
  uint8_t ls[kSubBlocks], lm[kSubBlocks];
};

// Without importance: fit each sub-block with weights rms + |x|, then map the largest scale and the
// largest minimum to 63. The search ranges differ between q4_K and q5_K as in ggml.
ScalesMins k4_scales_ref(const float* x, int nmax, float rmin, int nstep, uint8_t* L) {
  float scales[kSubBlocks], mins[kSubBlocks], weights[kSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xs = x + kSub * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx_quants(kSub, nmax, xs, weights, L + kSub * j, &mins[j], rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  ScalesMins result;
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kSubBlocks; ++j) {
    result.ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    result.lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  result.d = fp32_to_fp16(max_scale / 63.f);
  result.dmin = fp32_to_fp16(max_min / 63.f);
  return result;
}

// With importance: weighted fits, and the 6-bit scales and minimums chosen by make_qp_quants.
ScalesMins k4_scales_weighted(const float* x, const float* importance, int nmax, uint8_t* L) {
  float scales[kSubBlocks], mins[kSubBlocks], sw[kSubBlocks], weights[kSub];
  const float sigma2 = 2 * mean_square(x, kSuper);
  for (int j = 0; j < kSubBlocks; ++j) {
    importance_weights(x + kSub * j, importance + kSub * j, sigma2, kSub, weights);
    sw[j] = 0;
    for (int l = 0; l < kSub; ++l) sw[j] += weights[l];
    scales[j] =
        make_qkx_quants(kSub, nmax, x + kSub * j, weights, L + kSub * j, &mins[j], -0.9f, 0.05f, 36, false);
  }
  ScalesMins result;
  result.d = fp32_to_fp16(make_qp_quants(kSubBlocks, 63, scales, result.ls, sw));
  result.dmin = fp32_to_fp16(make_qp_quants(kSubBlocks, 63, mins, result.lm, sw));
  return result;
}

// Levels for every value against the scales and minimums as they will be decoded.
void k4_requantize(const float* x, const ScalesMins& s, const uint8_t* packed_scales, int nmax, uint8_t* L) {
  for (int j = 0; j < kSubBlocks; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, packed_scales, &sc, &m);
    const float d = fp16_to_fp32(s.d) * sc;
    if (!d) continue;
    const float dm = fp16_to_fp32(s.dmin) * m;
    for (int i = 0; i < kSub; ++i)
      L[kSub * j + i] =
          static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int((x[kSub * j + i] + dm) / d))));
  }
}

template <class Block>
void encode_k4(const float* x, const float* importance, Block* block, int nmax, float rmin, int nstep,
               void (*pack)(const uint8_t* L, Block* block)) {
  uint8_t L[kSuper];
  const ScalesMins s =
      importance ? k4_scales_weighted(x, importance, nmax, L) : k4_scales_ref(x, nmax, rmin, nstep, L);
  block->d = s.d;
  block->dmin = s.dmin;
  set_scale_min_k4(s.ls, s.lm, block->scales);
  k4_requantize(x, s, block->scales, nmax, L);
  pack(L, block);
}

// Value j's low nibble: byte 32·(j/64) + j%32, low half for j%64 < 32, high half otherwise.
void pack_k4_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int chunk = 0; chunk < kSuper / 64; ++chunk)
    for (int l = 0; l < 32; ++l)
      qs[32 * chunk + l] =
          static_cast<uint8_t>((L[64 * chunk + l] & 0xf) | ((L[64 * chunk + 32 + l] & 0xf) << 4));
}

int k4_nibble(const uint8_t* qs, int j) {
  const uint8_t byte = qs[32 * (j / 64) + j % 32];
  return (j % 64) < 32 ? byte & 0xf : byte >> 4;
}

template <class Block, int (*Level)(const Block&, int)>
void decode_k4(const Block& block, float* out) {
  const float d = fp16_to_fp32(block.d), min = fp16_to_fp32(block.dmin);
  for (int sub = 0; sub < kSubBlocks; ++sub) {
    uint8_t sc, m;
    scale_min_k4(sub, block.scales, &sc, &m);
    const float d1 = d * sc, m1 = min * m;
    for (int i = 0; i < kSub; ++i) out[kSub * sub + i] = d1 * Level(block, kSub * sub + i) - m1;
  }
}

void pack_q4_K(const uint8_t* L, BlockQ4K* block) { pack_k4_nibbles(L, block->qs); }
int q4_K_level(const BlockQ4K& block, int j) { return k4_nibble(block.qs, j); }

void pack_q5_K(const uint8_t* L, BlockQ5K* block) {
  pack_k4_nibbles(L, block->qs);
  std::fill(block->qh, block->qh + 32, uint8_t{0});
  for (int j = 0; j < kSuper; ++j)
    if (L[j] > 15) block->qh[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
}
int q5_K_level(const BlockQ5K& block, int j) {
  return k4_nibble(block.qs, j) + (((block.qh[j % 32] >> (j / 32)) & 1) ? 16 : 0);
}

// ggml tunes the reference search range per type.
void encode_q4_K(const float* x, const float* importance, BlockQ4K* block) {
  encode_k4(x, importance, block, 15, -1.f, 20, pack_q4_K);
}
void encode_q5_K(const float* x, const float* importance, BlockQ5K* block) {
  encode_k4(x, importance, block, 31, -0.5f, 15, pack_q5_K);
}

// ---------------------------------------------------------------------------------------- q6_K

// Within each 128-value half, value 32·k + l (k = 0..3) has its low nibble in ql[l + 32·(k%2)]
// (high half of the byte when k >= 2) and its top two bits at bit 2k of qh[l].
void pack_q6_K(const uint8_t* L, BlockQ6K* block) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* Lh = L + 128 * half;
    uint8_t* ql = block->ql + 64 * half;
    uint8_t* qh = block->qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((Lh[l] & 0xf) | ((Lh[l + 64] & 0xf) << 4));
      ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xf) | ((Lh[l + 96] & 0xf) << 4));
      qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                   ((Lh[l + 96] >> 4) << 6));
    }
  }
}

int q6_K_level(const BlockQ6K& block, int j) {
  const int half = j / 128, k = (j % 128) / 32, l = j % 32;
  const uint8_t low_byte = block.ql[64 * half + l + 32 * (k % 2)];
  const int low = k >= 2 ? low_byte >> 4 : low_byte & 0xf;
  const int high = (block.qh[32 * half + l] >> (2 * k)) & 3;
  return low | (high << 4);
}

void decode_q6_K(const BlockQ6K& block, float* out) {
  const float d = fp16_to_fp32(block.d);
  for (int j = 0; j < kSuper; ++j) out[j] = d * block.scales[j / 16] * (q6_K_level(block, j) - 32);
}

// ggml's reference and importance-weighted q6_K differ only in the weights of the scale search
// (x² without importance, the importance itself with it).
void encode_q6_K(const float* x, const float* importance, BlockQ6K* block) {
  constexpr int kSub16 = 16, kScales = kSuper / kSub16;
  int8_t L[kSuper];
  float scales[kScales];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < kScales; ++ib) {
    scales[ib] = make_qx_quants(kSub16, 32, x + kSub16 * ib, L + kSub16 * ib,
                                importance ? importance + kSub16 * ib : nullptr);
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  *block = {};
  if (max_abs_scale < kGroupMaxEps) return;
  const float iscale = -128.f / max_scale;
  block->d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < kScales; ++ib)
    block->scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < kScales; ++j) {
    const float d = fp16_to_fp32(block->d) * block->scales[j];
    if (!d) continue;
    for (int i = 0; i < kSub16; ++i)
      L[kSub16 * j + i] =
          static_cast<int8_t>(std::max(-32, std::min(31, nearest_int(x[kSub16 * j + i] / d))) + 32);
  }
  uint8_t levels[kSuper];
  for (int j = 0; j < kSuper; ++j) levels[j] = static_cast<uint8_t>(L[j]);
  pack_q6_K(levels, block);
}

}  // namespace

std::vector<RowCodec> kquant_4_6bit_codecs() {
  return {block_codec<BlockQ4K, kSuper, decode_k4<BlockQ4K, q4_K_level>, encode_q4_K>(GgmlType::Q4_K),
          block_codec<BlockQ5K, kSuper, decode_k4<BlockQ5K, q5_K_level>, encode_q5_K>(GgmlType::Q5_K),
          block_codec<BlockQ6K, kSuper, decode_q6_K, encode_q6_K>(GgmlType::Q6_K)};
}

}  // namespace mp::gguf_blocks
