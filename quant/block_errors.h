// GPTQ inside a lazy batch: before column q is quantized it receives the errors of the batch's
// earlier columns, w_q − Σ_k U[k, q]·e_k (step "quantize column, spread its error", applied late).
#pragma once
#include <cstdint>

namespace mp {

// out[r] = stale[r] − Σ_{k < count} u[k·u_stride]·errors[k·errors_stride + r] for r < rows, the sum
// taken in k order with one rounding per term (a fused multiply-add), then one subtraction.
//
// This is the arithmetic OpenBLAS's sgemm kernels do for the one-column product (addmm) it
// replaces: they accumulate each output in k order with FMAs and add α·sum to C, so the bits are
// the same (bench/gptq_same_bytes.sh compares the quantized outputs of two builds). An FMA is
// correctly rounded wherever it runs, so unlike a BLAS call the result is the same on every CPU.
// Done here because at one column the call costs more than its arithmetic: sgemm packs all `count`
// error rows into a buffer first, and each call goes through LibTorch's dispatch.
void subtract_block_errors(const float* stale, const float* errors, int64_t errors_stride, const float* u,
                           int64_t u_stride, int64_t count, int64_t rows, float* out);

}  // namespace mp
