// The upper Cholesky factor U of A⁻¹ (UᵀU = A⁻¹) for a symmetric positive definite A: GPTQ's
// "Cholesky reformulation". LibTorch computes it as at::linalg_cholesky_ex (LAPACK potrf on the
// lower triangle), at::cholesky_inverse (potri, then the lower triangle reflected onto the upper)
// and at::linalg_cholesky_ex(upper) (potrf on the upper triangle), each into a new column-major
// matrix after a triangular copy. On the development VM those fresh [n, n] matrices cost about as
// much in page faults as LAPACK spent computing (docs/performance.md, "GPTQ against its flop bound").
#pragma once
#include <ATen/ATen.h>

namespace mp {

// a: column-major [n, n] f32 or f64 (strides (1, n)) holding A in its lower triangle (the strictly
// upper part is overwritten). On success a holds U, with zeros below the diagonal, and the result
// is true; false when A or A⁻¹ is not positive definite (a then holds partial results).
// Calls the LAPACK routines LibTorch itself calls (resolved in the running process) with the same
// arguments on the same matrices, so U is bit for bit what upper_cholesky_of_inverse_aten gives;
// without them (a LibTorch that hides its LAPACK) it runs that function and copies the result.
bool upper_cholesky_of_inverse_in_place(at::Tensor& a);

// The same through LibTorch's operators (new matrices, a unchanged): the reference the in-place
// route must match bit for bit. Undefined when A or A⁻¹ is not positive definite.
at::Tensor upper_cholesky_of_inverse_aten(const at::Tensor& a);

}  // namespace mp
