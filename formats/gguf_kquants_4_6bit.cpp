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

// q4_K/q5_K stored parameters: d, dmin and the 12 bytes of packed 6-bit scales and minimums, which
// open both block structs.
constexpr int kK4Header = 16;

// The stored parameters the encoder picks for x, and the levels its search found (kept where a
// sub-block's scale is 0, as ggml does). ggml tunes the reference search range per type.
template <int kMaxLevel>
void choose_k4(const float* x, const float* importance, uint8_t* header, uint8_t* L) {
  constexpr float kRefRmin = kMaxLevel == 15 ? -1.f : -0.5f;
  constexpr int kRefNstep = kMaxLevel == 15 ? 20 : 15;
  const ScalesMins s = importance ? k4_scales_weighted(x, importance, kMaxLevel, L)
                                  : k4_scales_ref(x, kMaxLevel, kRefRmin, kRefNstep, L);
  std::memcpy(header, &s.d, 2);
  std::memcpy(header + 2, &s.dmin, 2);
  set_scale_min_k4(s.ls, s.lm, header + 4);
}

// Each sub-block's decode: value = scale·L − min with scale = d·sc and min = dmin·m.
void k4_sub_blocks(const uint8_t* header, float* scale, float* min) {
  uint16_t d, dmin;
  std::memcpy(&d, header, 2);
  std::memcpy(&dmin, header + 2, 2);
  for (int j = 0; j < kSubBlocks; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, header + 4, &sc, &m);
    scale[j] = fp16_to_fp32(d) * sc;
    min[j] = fp16_to_fp32(dmin) * m;
  }
}

// Both block structs open with the header.
void k4_header_of(const uint8_t* block, uint8_t* header) { std::memcpy(header, block, kK4Header); }

template <int kMaxLevel>
void choose_k4_grid(const float* x, const float* importance, uint8_t* header, float* scale, float* min) {
  uint8_t L[kSuper];
  choose_k4<kMaxLevel>(x, importance, header, L);
  k4_sub_blocks(header, scale, min);
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

void pack_q4_K(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ4K block;
  std::memcpy(&block, header, kK4Header);
  pack_k4_nibbles(L, block.qs);
  std::memcpy(out, &block, sizeof block);
}
int q4_K_level(const BlockQ4K& block, int j) { return k4_nibble(block.qs, j); }

void pack_q5_K(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ5K block;
  std::memcpy(&block, header, kK4Header);
  pack_k4_nibbles(L, block.qs);
  std::fill(block.qh, block.qh + 32, uint8_t{0});
  for (int j = 0; j < kSuper; ++j)
    if (L[j] > 15) block.qh[j % 32] |= static_cast<uint8_t>(1 << (j / 32));
  std::memcpy(out, &block, sizeof block);
}
int q5_K_level(const BlockQ5K& block, int j) {
  return k4_nibble(block.qs, j) + (((block.qh[j % 32] >> (j / 32)) & 1) ? 16 : 0);
}

template <class Block, int kMaxLevel, void (*Pack)(const uint8_t*, const uint8_t*, uint8_t*)>
void encode_k4(const float* x, const float* importance, Block* block) {
  uint8_t header[kK4Header], L[kSuper];
  float scale[kSubBlocks], min[kSubBlocks];
  choose_k4<kMaxLevel>(x, importance, header, L);
  k4_sub_blocks(header, scale, min);
  level_block(x, scale, min, kSub, kSuper, kMaxLevel, 0, L);
  Pack(header, L, reinterpret_cast<uint8_t*>(block));
}

// ---------------------------------------------------------------------------------------- q6_K

constexpr int kSub16 = 16, kScales = kSuper / kSub16;
constexpr int kQ6Header = 2 + kScales;  // d, then the 16 signed 8-bit sub-block scales

// ggml's reference and importance-weighted q6_K differ only in the weights of the scale search
// (x² without importance, the importance itself with it). A block too small to scale stores
// zeros throughout.
void choose_q6(const float* x, const float* importance, uint8_t* header, uint8_t* levels) {
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
  std::fill(header, header + kQ6Header, uint8_t{0});
  if (max_abs_scale < kGroupMaxEps) {
    std::fill(levels, levels + kSuper, uint8_t{0});
    return;
  }
  for (int j = 0; j < kSuper; ++j) levels[j] = static_cast<uint8_t>(L[j]);
  const float iscale = -128.f / max_scale;
  const uint16_t d = fp32_to_fp16(1 / iscale);
  std::memcpy(header, &d, 2);
  for (int ib = 0; ib < kScales; ++ib)
    header[2 + ib] = static_cast<uint8_t>(static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib]))));
}

// Each sub-block's decode: value = scale·(L − 32) with scale = d·sc.
void q6_sub_blocks(const uint8_t* header, float* scale, float* min) {
  uint16_t d;
  std::memcpy(&d, header, 2);
  for (int ib = 0; ib < kScales; ++ib) {
    scale[ib] = fp16_to_fp32(d) * static_cast<int8_t>(header[2 + ib]);
    min[ib] = 0;
  }
}

void q6_header_of(const uint8_t* bytes, uint8_t* header) {
  const BlockQ6K block = load_block<BlockQ6K>(bytes, 0);
  std::memcpy(header, &block.d, 2);
  std::memcpy(header + 2, block.scales, kScales);
}

void choose_q6_grid(const float* x, const float* importance, uint8_t* header, float* scale, float* min) {
  uint8_t L[kSuper];
  choose_q6(x, importance, header, L);
  q6_sub_blocks(header, scale, min);
}

// Within each 128-value half, value 32·k + l (k = 0..3) has its low nibble in ql[l + 32·(k%2)]
// (high half of the byte when k >= 2) and its top two bits at bit 2k of qh[l].
void pack_q6_K(const uint8_t* header, const uint8_t* L, uint8_t* out) {
  BlockQ6K block;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* Lh = L + 128 * half;
    uint8_t* ql = block.ql + 64 * half;
    uint8_t* qh = block.qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((Lh[l] & 0xf) | ((Lh[l + 64] & 0xf) << 4));
      ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xf) | ((Lh[l + 96] & 0xf) << 4));
      qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                   ((Lh[l + 96] >> 4) << 6));
    }
  }
  std::memcpy(&block.d, header, 2);
  std::memcpy(block.scales, header + 2, kScales);
  std::memcpy(out, &block, sizeof block);
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

void encode_q6_K(const float* x, const float* importance, BlockQ6K* block) {
  uint8_t header[kQ6Header], L[kSuper];
  float scale[kScales], min[kScales];
  choose_q6(x, importance, header, L);
  q6_sub_blocks(header, scale, min);
  level_block(x, scale, min, kSub16, kSuper, 63, 32, L);
  pack_q6_K(header, L, reinterpret_cast<uint8_t*>(block));
}

}  // namespace

std::vector<RowCodec> kquant_4_6bit_codecs() {
  return {block_codec<BlockQ4K, kSuper, decode_k4<BlockQ4K, q4_K_level>, encode_k4<BlockQ4K, 15, pack_q4_K>>(
              GgmlType::Q4_K),
          block_codec<BlockQ5K, kSuper, decode_k4<BlockQ5K, q5_K_level>, encode_k4<BlockQ5K, 31, pack_q5_K>>(
              GgmlType::Q5_K),
          block_codec<BlockQ6K, kSuper, decode_q6_K, encode_q6_K>(GgmlType::Q6_K)};
}

std::vector<BlockGridCodec> kquant_4_6bit_grids() {
  return {{GgmlType::Q4_K, kSub, 15, 0, nullptr, kK4Header, choose_k4_grid<15>, pack_q4_K, k4_header_of, k4_sub_blocks},
          {GgmlType::Q5_K, kSub, 31, 0, nullptr, kK4Header, choose_k4_grid<31>, pack_q5_K, k4_header_of, k4_sub_blocks},
          {GgmlType::Q6_K, kSub16, 63, 32, nullptr, kQ6Header, choose_q6_grid, pack_q6_K, q6_header_of, q6_sub_blocks}};
}

}  // namespace mp::gguf_blocks
