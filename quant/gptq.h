// GPTQ (Frantar et al., 2022) on one linear layer: quantize W column by column through a Grid and,
// after each column, spread its quantization error over the columns not yet quantized so that
// ‖WX − ŴX‖² stays small, using the inverse Hessian H⁻¹ of that objective (H = 2XXᵀ).
#pragma once
#include "quant/quantized_linear.h"

namespace mp {

struct GptqOptions {
  int64_t block_size = 128;    // columns per lazy batch update
  double damp = 0.01;          // λ added to diag(H), as a fraction of its mean
  double max_damp = 10.0;      // λ is raised ×10 while the Cholesky fails, up to this fraction
  bool act_order = false;      // quantize columns in order of decreasing H_ii
  bool static_groups = false;  // choose every group's parameters up front from the unmodified W
  // Groups chosen on the way weigh each column's error by H_ii (the importance a ggml codec's
  // search takes; diag(H) = 2·Σx² is llama-imatrix's statistic up to a factor).
  bool hessian_importance = false;
};

struct GptqResult {
  QuantizedLinear layer;
  double damp_used = 0;      // the fraction of mean diag(H) finally added
  int damp_raises = 0;       // how often it had to be raised for the Cholesky to succeed
  int64_t dead_columns = 0;  // inputs that were always zero (H_ii = 0)
  double loss = 0;           // Σ (w − ŵ)² / [H⁻¹]_qq / 2: the reference code's "error"
};

// What GPTQ derives from a Hessian alone, computed once for all the linears that read one input.
struct GptqHessian {
  at::Tensor upper;          // f32 U with UᵀU = (H + λI)⁻¹ in processing order: row q updates column q
  at::Tensor order;          // int64 [in]: the input columns in processing order
  at::Tensor dead;           // bool [in]: inputs that were always zero (H_ii = 0)
  at::Tensor diagonal;       // f32 [in]: undamped H_ii in processing order (1 for dead inputs)
  double damp_used = 0;      // the fraction of mean diag(H) finally added
  int damp_raises = 0;       // how often it had to be raised for the Cholesky to succeed
  int64_t dead_columns = 0;
};

// h: [in, in] Hessian (f32 or f64), e.g. HessianAccumulator::matrix(), not modified. Holds one more
// [in, in] matrix besides h (two for act-order, while it permutes), which becomes `upper`.
GptqHessian prepare_gptq_hessian(const at::Tensor& h, const GptqOptions& options = {});

// w: [out, in] weight.
GptqResult quantize_gptq(const at::Tensor& w, const GptqHessian& hessian, std::shared_ptr<const Grid> grid,
                         const GptqOptions& options = {});
GptqResult quantize_gptq(const at::Tensor& w, const at::Tensor& h, std::shared_ptr<const Grid> grid,
                         const GptqOptions& options = {});

}  // namespace mp
