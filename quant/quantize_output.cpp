#include "quant/quantize_output.h"

#include <algorithm>
#include <vector>

#include "lib/base/error.h"
#include "lib/runtime/decoder_layer.h"
#include "lib/runtime/model_source.h"
#include "quant/span_grid.h"

namespace mp {

namespace {

std::string module_of(const char* weight) {
  const std::string name(weight);
  return name.substr(0, name.rfind('.'));
}

// Joins the row chunks of one matrix solved on `grid`: codes, group parameters, and a span grid's
// stored block parameters (rows are independent, so they join along the rows too).
QuantizedLinear join_row_chunks(std::vector<QuantizedLinear>& chunks, const std::shared_ptr<const Grid>& grid) {
  std::vector<at::Tensor> codes, scales, zeros, stored;
  for (QuantizedLinear& q : chunks) {
    codes.push_back(q.codes);
    scales.push_back(q.scales);
    zeros.push_back(q.zeros);
    if (const auto* span_grid = dynamic_cast<const SpanGrid*>(q.grid.get())) stored.push_back(span_grid->stored());
  }
  QuantizedLinear joined{at::cat(codes, 0), at::cat(scales, 0), at::cat(zeros, 0), chunks.front().g_idx, grid};
  chunks.clear();
  if (const auto* span_grid = dynamic_cast<const SpanGrid*>(grid.get())) joined.grid = span_grid->bind(at::cat(stored, 0));
  return joined;
}

}  // namespace

std::string output_module(const ModelConfig& config) {
  return module_of(config.tie_word_embeddings ? hf_names::embed : hf_names::lm_head);
}

std::string lookup_module(const ModelConfig& config) {
  return config.tie_word_embeddings ? std::string() : module_of(hf_names::embed);
}

at::Tensor output_hessian(const ModelConfig& config, const at::Tensor& final_norm, const at::Tensor& states,
                          int64_t batch) {
  HessianAccumulator h(config.hidden_size, at::kFloat);
  const at::Tensor norm = final_norm.to(states.scalar_type());
  for (int64_t s = 0; s < states.size(0); s += batch)
    h.add(rms_norm(config, states.narrow(0, s, std::min(batch, states.size(0) - s)), norm).to(at::kFloat));
  return h.matrix();
}

RowChunkedGptq quantize_gptq_by_rows(const at::Tensor& weight, const at::Tensor& h,
                                     const std::shared_ptr<const Grid>& grid, const GptqOptions& options,
                                     int64_t chunk_rows) {
  if (weight.dim() != 2 || chunk_rows < 1) fail_runtime("quantize_gptq_by_rows: a 2-D weight and positive chunks");
  const GptqHessian inverse = prepare_gptq_hessian(h, options);  // shared by every chunk
  RowChunkedGptq result;
  result.damp_used = inverse.damp_used;
  result.damp_raises = inverse.damp_raises;
  std::vector<QuantizedLinear> chunks;
  for (int64_t r = 0; r < weight.size(0); r += chunk_rows) {
    const at::Tensor rows = weight.narrow(0, r, std::min(chunk_rows, weight.size(0) - r)).to(at::kFloat);
    QuantizedLinear q = quantize_gptq(rows, inverse, grid, options).layer;
    result.error += hessian_weighted_error(rows, q.dequantize(), h);
    q.codes = q.codes.to(at::kByte);
    chunks.push_back(std::move(q));
  }
  result.layer = join_row_chunks(chunks, grid);
  return result;
}

QuantizedLinear quantize_lookup_rows(const at::Tensor& weight, const at::Tensor& tokens,
                                     const std::shared_ptr<const Grid>& grid, int64_t chunk_rows) {
  const auto* span_grid = dynamic_cast<const SpanGrid*>(grid.get());
  if (!span_grid || weight.dim() != 2 || chunk_rows < 1)
    fail_runtime("quantize_lookup_rows: a 2-D weight on a span grid (ggml block grid)");
  const int64_t vocab = weight.size(0), columns = weight.size(1);
  const at::Tensor counts = at::bincount(tokens.flatten().to(at::kLong), {}, vocab).to(at::kFloat);
  if (counts.size(0) != vocab) fail_input("calibration", "a token id is past the embedding's rows");
  const at::Tensor g_idx = grid->sequential_groups(columns);
  std::vector<QuantizedLinear> chunks;
  for (int64_t r = 0; r < vocab; r += chunk_rows) {
    const int64_t n = std::min(chunk_rows, vocab - r);
    const at::Tensor rows = weight.narrow(0, r, n).to(at::kFloat);
    const at::Tensor importance = counts.narrow(0, r, n).unsqueeze(1).expand({n, columns});
    at::Tensor stored;
    const GridParams params = span_grid->choose_stored(rows, importance, stored);
    const at::Tensor codes = grid->quantize(rows, params.for_columns(g_idx)).to(at::kByte);
    chunks.push_back({codes, params.scale, params.zero, g_idx, span_grid->bind(stored)});
  }
  return join_row_chunks(chunks, grid);
}

}  // namespace mp
