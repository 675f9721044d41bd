#include "formats/gguf_scale_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/gguf_block_io.h"

namespace mp::gguf_blocks {

namespace {

// The element of largest magnitude, with its sign (the scales below map it to level -nmax).
float signed_absmax(int n, const float* x) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

// The fit of one candidate scale does not depend on the others (in make_qkx_quants, until one moves
// the minimum), so they are fitted kLanes at a time, one candidate per vector lane: 2.3-3.5x faster
// searches on AVX2. Each lane does the scalar loop's operations in its order and without fused
// multiply-adds (the clones target avx2, which does not include fma; an avx512f clone would, and
// changes bytes), so every sum, every choice and so every output byte is what fitting the candidates
// one at a time gives, as ggml does.
constexpr int kLanes = 8;
constexpr int kMaxGroup = 256;      // the largest group any codec searches
constexpr int kQxCandidates = 19;   // make_qx_quants: the max-based scale and 18 around it
using FloatLanes = float __attribute__((vector_size(4 * kLanes)));
using IntLanes = int32_t __attribute__((vector_size(4 * kLanes)));
using LaneLevels = IntLanes;  // levels[i][lane]: element i's level under candidate `lane`
#if defined(__x86_64__)
#define MP_LANE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MP_LANE_CLONES
#endif

// nearest_int on every lane. Vectors pass by reference: by value they would need the AVX calling
// convention, which the default clone lacks.
inline void nearest_ints(const FloatLanes& values, IntLanes* rounded) {
  const FloatLanes shifted = values + 12582912.0f;
  *rounded = (IntLanes(shifted) & 0x007fffff) - 0x00400000;
}

struct QxFits {
  float sumlx[kLanes], suml2[kLanes];
};

// make_qx_quants' fit for the kLanes inverse scales at `iscales`.
MP_LANE_CLONES QxFits fit_qx_candidates(int n, int nmax, const float* x, const float* weights,
                                        const float* iscales, LaneLevels* levels) {
  FloatLanes iscale;
  std::memcpy(&iscale, iscales, sizeof iscale);
  const IntLanes lowest = IntLanes{} - nmax, highest = IntLanes{} + (nmax - 1);
  FloatLanes sumlx{}, suml2{};
  for (int i = 0; i < n; ++i) {
    const float w = weights ? weights[i] : x[i] * x[i];
    IntLanes l;
    nearest_ints(iscale * x[i], &l);
    l = highest < l ? highest : l;
    l = l < lowest ? lowest : l;
    levels[i] = l;
    const FloatLanes lf = __builtin_convertvector(l, FloatLanes);
    sumlx += (w * x[i]) * lf;
    suml2 += w * lf * lf;
  }
  QxFits fits;
  std::memcpy(fits.sumlx, &sumlx, sizeof sumlx);
  std::memcpy(fits.suml2, &suml2, sizeof suml2);
  return fits;
}

struct QkxSearch {
  int n, nmax;
  const float *x, *weights;
  float min, sum_w, sum_x;
  bool use_mad;
};
struct QkxFits {
  float scale[kLanes], min[kLanes], error[kLanes];
  int32_t solvable[kLanes];  // nonzero where the normal equations have a solution
};

// make_qkx_quants' fit for the kLanes inverse scales at `iscales`: levels, then the weighted least
// squares scale and offset for them, then their error.
MP_LANE_CLONES QkxFits fit_qkx_candidates(const QkxSearch& s, const float* iscales, LaneLevels* levels) {
  FloatLanes iscale;
  std::memcpy(&iscale, iscales, sizeof iscale);
  const FloatLanes top = FloatLanes{} + static_cast<float>(s.nmax), one = FloatLanes{} + 1.0f;
  FloatLanes sum_l{}, sum_l2{}, sum_xl{};
  for (int i = 0; i < s.n; ++i) {
    const float w = s.weights[i];
    const FloatLanes v = iscale * (s.x[i] - s.min);
    const FloatLanes capped = top < v ? top : v;
    IntLanes l;
    nearest_ints(capped, &l);
    l = v > 0.0f ? l : IntLanes{};
    levels[i] = l;
    const FloatLanes lf = __builtin_convertvector(l, FloatLanes);
    sum_l += w * lf;
    sum_l2 += w * lf * lf;
    sum_xl += w * lf * s.x[i];
  }
  // Weighted least squares for scale and offset with these levels (2x2 normal equations).
  const FloatLanes D = s.sum_w * sum_l2 - sum_l * sum_l;
  const IntLanes solvable = D > 0.0f;
  const FloatLanes divisor = solvable ? D : one, l2_divisor = solvable ? sum_l2 : one;
  FloatLanes scale = (s.sum_w * sum_xl - s.sum_x * sum_l) / divisor;
  FloatLanes min = (sum_l2 * s.sum_x - sum_l * sum_xl) / divisor;
  const IntLanes positive_min = min > 0.0f;
  scale = positive_min ? sum_xl / l2_divisor : scale;
  min = positive_min ? FloatLanes{} : min;
  FloatLanes error{};
  for (int i = 0; i < s.n; ++i) {
    FloatLanes diff = scale * __builtin_convertvector(levels[i], FloatLanes) + min - s.x[i];
    if (s.use_mad) {
      diff = FloatLanes(IntLanes(diff) & 0x7fffffff);  // |diff|: the sign bit cleared
    } else {
      diff = diff * diff;
    }
    error += s.weights[i] * diff;
  }
  QkxFits fits;
  std::memcpy(fits.scale, &scale, sizeof scale);
  std::memcpy(fits.min, &min, sizeof min);
  std::memcpy(fits.error, &error, sizeof error);
  std::memcpy(fits.solvable, &solvable, sizeof solvable);
  return fits;
}

}  // namespace

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights) {
  const float max = signed_absmax(n, x);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  // Candidate 0 is the max-based scale; then -(nmax + 0.1·is)/max for is = -9..9 without 0.
  float iscales[kQxCandidates + kLanes] = {};  // the last load reads past the candidates
  iscales[0] = -nmax / max;
  for (int c = 1, is = -9; is <= 9; ++is)
    if (is != 0) iscales[c++] = -(nmax + 0.1f * is) / max;
  LaneLevels levels[kMaxGroup];
  float scale = 0, best = 0;
  for (int first = 0; first < kQxCandidates; first += kLanes) {
    const QxFits fits = fit_qx_candidates(n, nmax, x, weights, iscales + first, levels);
    for (int lane = 0; lane < kLanes && first + lane < kQxCandidates; ++lane) {
      const float sumlx = fits.sumlx[lane], suml2 = fits.suml2[lane];
      if (first + lane == 0) {
        scale = suml2 ? sumlx / suml2 : 0.0f;
        best = scale * sumlx;
      } else if (suml2 > 0 && sumlx * sumlx > best * suml2) {
        // sumlx²/suml2 is the error reduction of the best scale for these levels: keep the largest.
        scale = sumlx / suml2;
        best = scale * sumlx;
      } else {
        continue;
      }
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(levels[i][lane] + nmax);
    }
  }
  return scale;
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(n, x);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t{0});
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  // Coordinate descent: re-pick one level given the fit of all the others.
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx <= 0) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      int new_l = nearest_int(x[i] * sl2 / slx);
      new_l = std::max(-nmax, std::min(nmax - 1, new_l));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++n_changed;
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                      float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
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
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
    float diff = scale * L[i] + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  // A better candidate's minimum becomes the offset the following candidates start from, so the
  // lanes after one that moved it are fitted again from the new minimum.
  LaneLevels levels[kMaxGroup];
  for (int first = 0; first <= nstep;) {
    float iscales[kLanes];
    for (int lane = 0; lane < kLanes; ++lane) iscales[lane] = (rmin + rdelta * (first + lane) + nmax) / (max - min);
    const QkxFits fits = fit_qkx_candidates({n, nmax, x, weights, min, sum_w, sum_x, use_mad}, iscales, levels);
    int next = first + kLanes;
    for (int lane = 0; lane < kLanes && first + lane <= nstep; ++lane) {
      if (!fits.solvable[lane] || !(fits.error[lane] < best_error)) continue;
      for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(levels[i][lane]);
      best_error = fits.error[lane];
      scale = fits.scale[lane];
      const bool min_moved = std::memcmp(&min, &fits.min[lane], sizeof min) != 0;
      min = fits.min[lane];
      if (min_moved) {
        next = first + lane + 1;
        break;
      }
    }
    first = next;
  }
  *the_min = -min;
  return scale;
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    std::fill(L, L + n, uint8_t{0});
    return 0.f;
  }
  float iscale = nmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * L[i];
    best_mse += weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * is + nmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * l;
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += weights[i] * x[i] * l;
    suml2 += weights[i] * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      float slx = sumlx - w * x[i] * L[i];
      float sl2 = suml2 - w * L[i] * L[i];
      if (!(slx > 0 && sl2 > 0)) continue;
      const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++n_changed;
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace mp::gguf_blocks
