// The model's two ends as one more calibrated stage after the last decoder layer
// (QuantizePlan::calibrate_output; docs/gguf.md, "Calibrated output matrix and token embedding").
// - The output matrix is a linear whose inputs are the final norm's outputs: GPTQ solves it like
//   any other. A tied embedding is that matrix (it is solved as the output, and its lookups read
//   the solved rows).
// - An untied token embedding is a lookup, not a linear: there is no input to compensate errors
//   against. Its rows are encoded on their grid with each row's importance the number of times its
//   token occurs in the calibration windows (a one-hot input's Hessian diagonal).
// Both go a chunk of rows at a time: GPTQ's rows are independent given H, and so are a lookup's,
// so a vocab × hidden matrix never has more than one chunk's f32 working copies in memory besides
// its one-byte codes.
#pragma once
#include <memory>
#include <string>

#include "formats/hf_config.h"
#include "quant/gptq.h"
#include "quant/hessian.h"

namespace mp {

// The HF module the output stage solves: "lm_head", or "model.embed_tokens" when it is tied.
std::string output_module(const ModelConfig& config);
// The untied embedding's module ("model.embed_tokens"), or "" when the embedding is the output.
std::string lookup_module(const ModelConfig& config);

// H = 2/n Σ x xᵀ (f32) over the final norm's outputs x for `states`, the last layer's outputs
// [N, T, hidden] in their compute type, `batch` windows at a time.
at::Tensor output_hessian(const ModelConfig& config, const at::Tensor& final_norm, const at::Tensor& states,
                          int64_t batch);

struct RowChunkedGptq {
  QuantizedLinear layer;  // codes uint8 (block levels and GPTQ codes up to 8 bits fit a byte)
  WeightedError error;    // tr(ΔW H ΔWᵀ) and tr(W H Wᵀ) over all rows
  double damp_used = 0;
  int damp_raises = 0;
};

// GPTQ of `weight` [out, in] (any dtype, e.g. a mapped bf16 tensor) with Hessian h, `chunk_rows`
// rows at a time. The result is the one GPTQ gives the whole matrix up to float summation order.
RowChunkedGptq quantize_gptq_by_rows(const at::Tensor& weight, const at::Tensor& h,
                                     const std::shared_ptr<const Grid>& grid, const GptqOptions& options,
                                     int64_t chunk_rows = 4096);

// An embedding [vocab, hidden] encoded row by row on `grid` (choose + quantize, no error feedback),
// each row's importance the count of its token id in `tokens` (int64, any shape).
QuantizedLinear quantize_lookup_rows(const at::Tensor& weight, const at::Tensor& tokens,
                                     const std::shared_ptr<const Grid>& grid, int64_t chunk_rows = 4096);

}  // namespace mp
