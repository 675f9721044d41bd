// The loss a size-targeted mix minimises: for a weight W and a candidate ggml type, the error of
// encoding W with that type (with the importance the exporter would use) and decoding it back,
// weighted per input column by E[x_i²] from an importance matrix:
//   loss = Σ_r Σ_i E[x_i²] · (W_ri − Ŵ_ri)²  =  E‖(W − Ŵ)x‖²  when the inputs' covariance is diagonal,
// the expected squared output error of the linear per token (docs/gguf.md, "Size-targeted mixes").
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "formats/gguf_types.h"

namespace mp {

// decode(encode(W)) as f32 [rows, columns], each row encoded as the exporter encodes it: `importance`
// (one per column, or nullptr) goes to the encoder as llama-quantize --imatrix gives it. The same
// for any thread count (rows encode independently).
at::Tensor encode_decode(const at::Tensor& weights, GgmlType type, const float* importance);

// Σ over rows of (W − decode(encode(W)))² per column, in double, summed in row order (the same for
// any thread count). `weights` is [rows, columns]; `importance` (one per column, or nullptr) goes to
// the encoder as llama-quantize --imatrix gives it.
std::vector<double> column_squared_errors(const at::Tensor& weights, GgmlType type, const float* importance);

// Σ over rows of W² per column (the same sums for W itself: the signal the errors are measured against).
std::vector<double> column_energies(const at::Tensor& weights);

// Σ_i column_weights[i] · errors[i].
double weighted_error(const std::vector<double>& errors, const std::vector<float>& column_weights);

}  // namespace mp
