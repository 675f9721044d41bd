#include "quant/block_errors.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mp {
namespace {

// Rows [begin, rows), one error row at a time. Without FMA instructions std::fma is done in
// software: exact too, only slower.
void subtract_rows(const float* stale, const float* errors, int64_t errors_stride, const float* u,
                   int64_t u_stride, int64_t count, int64_t begin, int64_t rows, float* out) {
  std::fill(out + begin, out + rows, 0.0f);
  for (int64_t k = 0; k < count; ++k)
    for (int64_t r = begin; r < rows; ++r) out[r] = std::fma(u[k * u_stride], errors[k * errors_stride + r], out[r]);
  for (int64_t r = begin; r < rows; ++r) out[r] = stale[r] - out[r];
}

#if defined(__x86_64__)
// Error row by error row, each read once and in order, into sums held in `out` (a range's rows fit
// in L1); reading 64 rows of every error row at a time instead strides across all of them and runs
// slower than the BLAS call.
__attribute__((target("avx2,fma"))) void subtract_block_errors_avx2(const float* stale, const float* errors,
                                                                      int64_t errors_stride, const float* u,
                                                                      int64_t u_stride, int64_t count,
                                                                      int64_t rows, float* out) {
  constexpr int64_t kLanes = 8;
  const int64_t vector_rows = rows / kLanes * kLanes;
  std::fill(out, out + vector_rows, 0.0f);
  for (int64_t k = 0; k < count; ++k) {
    const __m256 weight = _mm256_set1_ps(u[k * u_stride]);
    const float* row = errors + k * errors_stride;
    for (int64_t r = 0; r < vector_rows; r += kLanes)
      _mm256_storeu_ps(out + r, _mm256_fmadd_ps(weight, _mm256_loadu_ps(row + r), _mm256_loadu_ps(out + r)));
  }
  for (int64_t r = 0; r < vector_rows; r += kLanes)
    _mm256_storeu_ps(out + r, _mm256_sub_ps(_mm256_loadu_ps(stale + r), _mm256_loadu_ps(out + r)));
  subtract_rows(stale, errors, errors_stride, u, u_stride, count, vector_rows, rows, out);
}

const bool kHasAvx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif

}  // namespace

void subtract_block_errors(const float* stale, const float* errors, int64_t errors_stride, const float* u,
                           int64_t u_stride, int64_t count, int64_t rows, float* out) {
#if defined(__x86_64__)
  if (kHasAvx2Fma) return subtract_block_errors_avx2(stale, errors, errors_stride, u, u_stride, count, rows, out);
#endif
  subtract_rows(stale, errors, errors_stride, u, u_stride, count, 0, rows, out);
}

}  // namespace mp
