#include "quant/inverse_cholesky.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

#include "lib/base/error.h"

namespace mp {
namespace {

// potrf and potri: (uplo, n, a, lda, info), plus the length of uplo that Fortran-compiled LAPACK
// takes as a hidden last argument (C implementations, as OpenBLAS's potrf, ignore it).
using Routine = void (*)(const char*, const int*, void*, const int*, int*, size_t);

Routine lookup(const char* name) { return reinterpret_cast<Routine>(::dlsym(RTLD_DEFAULT, name)); }

struct Lapack {
  Routine potrf, potri;
};

// The routines LibTorch's operators call, from the library the process loaded for it.
const Lapack& lapack(at::ScalarType dtype) {
  static const Lapack single{lookup("spotrf_"), lookup("spotri_")};
  static const Lapack twice{lookup("dpotrf_"), lookup("dpotri_")};
  return dtype == at::kDouble ? twice : single;
}

template <typename T>
void zero_strictly_upper(T* a, int64_t n) {  // column-major: column j's rows [0, j)
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) std::fill(a + j * n, a + j * n + j, T(0));
  });
}

template <typename T>
void zero_strictly_lower(T* a, int64_t n) {  // column-major: column j's rows (j, n)
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) std::fill(a + j * n + j + 1, a + (j + 1) * n, T(0));
  });
}

// What LibTorch does after potri: a(j, i) = a(i, j) for i > j, the strictly upper triangle made
// the mirror of the lower one. Copies in 64 × 64 tiles so both sides stay in cache.
template <typename T>
void mirror_lower_onto_upper(T* a, int64_t n) {
  constexpr int64_t kTile = 64;
  at::parallel_for(0, (n + kTile - 1) / kTile, 1, [&](int64_t begin, int64_t end) {
    for (int64_t tj = begin; tj < end; ++tj)
      for (int64_t ti = tj; ti * kTile < n; ++ti)
        for (int64_t j = tj * kTile; j < std::min(n, (tj + 1) * kTile); ++j)
          for (int64_t i = std::max(ti * kTile, j + 1); i < std::min(n, (ti + 1) * kTile); ++i)
            a[i * n + j] = a[j * n + i];
  });
}

template <typename T>
bool factorize(T* a, int64_t size, const Lapack& routines) {
  const int n = static_cast<int>(size);
  int info = 0;
  // at::linalg_cholesky_ex: the lower triangle (tril_out zeroes the rest), then potrf.
  zero_strictly_upper(a, size);
  routines.potrf("L", &n, a, &n, &info, 1);
  if (info != 0) return false;
  // at::cholesky_inverse: potri on the factor, then the lower triangle mirrored.
  routines.potri("L", &n, a, &n, &info, 1);
  if (info != 0) return false;
  mirror_lower_onto_upper(a, size);
  // at::linalg_cholesky_ex(upper): the upper triangle (triu_out zeroes the rest), then potrf.
  zero_strictly_lower(a, size);
  routines.potrf("U", &n, a, &n, &info, 1);
  return info == 0;
}

}  // namespace

at::Tensor upper_cholesky_of_inverse_aten(const at::Tensor& a) {
  at::Tensor lower, info;
  std::tie(lower, info) = at::linalg_cholesky_ex(a);
  if (info.item<int>() != 0) return {};
  at::Tensor inverse = at::cholesky_inverse(lower);
  lower = at::Tensor();
  at::Tensor upper;
  std::tie(upper, info) = at::linalg_cholesky_ex(inverse, /*upper=*/true);
  return info.item<int>() == 0 ? upper : at::Tensor();
}

bool upper_cholesky_of_inverse_in_place(at::Tensor& a) {
  const int64_t n = a.size(0);
  if (a.dim() != 2 || a.size(1) != n || a.stride(0) != 1 || a.stride(1) != n)
    fail_runtime("upper_cholesky_of_inverse_in_place: a column-major square matrix");
  if (n > std::numeric_limits<int>::max() / 2) fail_runtime("upper_cholesky_of_inverse_in_place: matrix too large");
  const at::ScalarType dtype = a.scalar_type();
  if (dtype != at::kFloat && dtype != at::kDouble) fail_runtime("upper_cholesky_of_inverse_in_place: f32 or f64");
  const Lapack& routines = lapack(dtype);
  if (!routines.potrf || !routines.potri) {
    const at::Tensor upper = upper_cholesky_of_inverse_aten(a);
    if (!upper.defined()) return false;
    a.copy_(upper);
    return true;
  }
  return dtype == at::kDouble ? factorize(a.data_ptr<double>(), n, routines)
                              : factorize(a.data_ptr<float>(), n, routines);
}

}  // namespace mp
