// The k-quant scale searches fit their candidate scales several at a time in vector lanes
// (formats/gguf_scale_search.cpp). Here they meet a one-candidate-at-a-time transcription of ggml's
// make_qx_quants and make_qkx2/3_quants on random groups shaped like every caller's, including the
// cases that steer the search: zero weights, all-positive groups (min stays 0), tiny magnitudes, and
// many ties. ggml's own bytes are checked on the golden rows (test_gguf_codecs.cpp); these cover
// the branches a few rows may not reach.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "formats/gguf_block_io.h"
#include "formats/gguf_scale_search.h"

namespace {

using mp::gguf_blocks::nearest_int;

float reference_qx(int n, int nmax, const float* x, int8_t* L, const float* weights) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax < mp::gguf_blocks::kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weights ? weights[i] : x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
      const float w = weights ? weights[i] : x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float reference_qkx(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min, float rmin,
                    float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.f;
  }
  auto error_of = [&](float scale, float offset, const uint8_t* levels) {
    float error = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * levels[i] + offset - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      error += weights[i] * diff;
    }
    return error;
  };
  float iscale = nmax / (max - min), scale = 1 / iscale;
  for (int i = 0; i < n; ++i)
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
  float best_error = error_of(scale, min, L);
  uint8_t Laux[256];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float v = iscale * (x[i] - min);
      const int l = v > 0 ? nearest_int(std::min(v, static_cast<float>(nmax))) : 0;
      Laux[i] = static_cast<uint8_t>(l);
      sum_l += weights[i] * l;
      sum_l2 += weights[i] * l * l;
      sum_xl += weights[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float cur_error = error_of(this_scale, this_min, Laux);
    if (cur_error < best_error) {
      std::copy(Laux, Laux + n, L);
      best_error = cur_error;
      scale = this_scale;
      min = this_min;  // the next candidates start from this minimum
    }
  }
  *the_min = -min;
  return scale;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Group `t` of a varied stream: normal, all positive, tiny, or coarse (many equal values).
void random_group(std::mt19937& rng, int t, int n, float* x, float* weights) {
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(0, 1);
  for (int i = 0; i < n; ++i) {
    const float v = normal(rng);
    switch (t % 4) {
      case 0: x[i] = v; break;
      case 1: x[i] = std::fabs(v); break;
      case 2: x[i] = v * 1e-3f; break;
      default: x[i] = std::round(v * 3) / 7; break;
    }
    weights[i] = (t % 5 == 0 && i % 3 == 0) ? 0.f : uniform(rng) + std::fabs(x[i]);
  }
}

}  // namespace

TEST_CASE("gguf scale search: the lane-parallel searches choose what one candidate at a time chooses", "[gguf]") {
  struct Qkx {
    int n, nmax;
    float rmin, rdelta;
    int nstep;
    bool use_mad;
  };
  // q2_K (with and without importance), q4_K, q5_K, q4_1/q5_1 with importance, a 256-wide group.
  const Qkx searches[] = {{16, 3, -0.5f, 0.1f, 15, true},   {16, 3, -0.9f, 0.05f, 36, false},
                          {32, 15, -1.f, 0.1f, 20, false},  {32, 31, -0.5f, 0.1f, 15, false},
                          {32, 15, -0.9f, 0.05f, 36, false}, {256, 15, -1.f, 0.1f, 20, false}};
  std::mt19937 rng(7);
  float x[256], weights[256];
  int differing = 0;
  for (const Qkx& q : searches)
    for (int t = 0; t < 2000; ++t) {
      random_group(rng, t, q.n, x, weights);
      uint8_t L[256], L_ref[256];
      float min, min_ref;
      const float scale = mp::gguf_blocks::make_qkx_quants(q.n, q.nmax, x, weights, L, &min, q.rmin, q.rdelta,
                                                           q.nstep, q.use_mad);
      const float scale_ref = reference_qkx(q.n, q.nmax, x, weights, L_ref, &min_ref, q.rmin, q.rdelta, q.nstep,
                                            q.use_mad);
      if (!same_bits(scale, scale_ref) || !same_bits(min, min_ref) || std::memcmp(L, L_ref, q.n) != 0) ++differing;
    }
  CHECK(differing == 0);

  // q6_K's and q3_K's groups and their scales' own search; with x² weights and with given ones.
  const int qx_shapes[][2] = {{16, 32}, {16, 4}, {32, 8}, {256, 32}};
  for (const auto& shape : qx_shapes)
    for (int t = 0; t < 2000; ++t) {
      random_group(rng, t, shape[0], x, weights);
      int8_t L[256], L_ref[256];
      const float* w = t % 2 ? weights : nullptr;
      const float scale = mp::gguf_blocks::make_qx_quants(shape[0], shape[1], x, L, w);
      const float scale_ref = reference_qx(shape[0], shape[1], x, L_ref, w);
      if (!same_bits(scale, scale_ref) || std::memcmp(L, L_ref, shape[0]) != 0) ++differing;
    }
  CHECK(differing == 0);
}
