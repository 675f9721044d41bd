// A ggml block type as a Grid, so GPTQ can solve a layer directly on the grid its GGUF tensor
// stores (docs/gguf.md, "GPTQ inside the GGUF grids"). choose() runs the type's own encoder
// search on a super-block of error-updated weights and keeps only the stored parameters (fp16
// scales, packed sub-block scales and minimums); the codes are then that type's levels, and
// pack_block_grid_tensor() writes blocks that decode exactly to what the solve measured. A grid
// can also be bound to the parameters a GGUF file stores (block_grid_of_tensor_data), to re-level
// other weights on them (quantization-aware training on frozen parameters, docs/qad.md; k-quants).
// Grouping: one group per sub-block (32 values for q4_K/q5_K and iq4_xs, 16 for q2_K/q3_K/q6_K), one
// choose() per 256-value super-block; the legacy types (q4_0 … q8_0) and iq4_nl are one group and one
// choose() per 32-value block. Codes c decode as scale·(c − offset) − zero, zero being ggml's
// minimum, or for iq4 as scale·kvalues[c], whose levels are not evenly spaced: quantize() picks the
// nearest of them.
#pragma once
#include <cstdint>
#include <vector>

#include "formats/gguf_types.h"
#include "quant/quantized_linear.h"
#include "quant/span_grid.h"

namespace mp {

namespace gguf_blocks {
struct BlockGridCodec;
}

// True for the types GgufBlockGrid supports: q4_0, q4_1, q5_0, q5_1, q8_0, q2_K … q6_K, iq4_nl, iq4_xs.
bool has_block_grid(GgmlType type);
// True for the block grids whose written blocks give their stored parameters back (the k-quants):
// block_grid_of_tensor_data and stored_params() need it.
bool has_stored_block_params(GgmlType type);

class GgufBlockGrid : public SpanGrid {
 public:
  // Fails for a type without has_block_grid. `stored`: the blocks' stored parameters of a solved
  // layer, uint8 [rows, blocks, bytes] (see bind()), undefined for a grid yet to be used.
  explicit GgufBlockGrid(GgmlType type, at::Tensor stored = {});

  GgmlType type() const;
  int bits() const override;
  int64_t group_size() const override;
  int64_t choose_span() const override;
  bool symmetric() const override;

  // w [rows, span], span whole blocks; importance [span], [rows, span] or undefined (then the
  // encoder's search without an importance matrix, as llama-quantize without --imatrix). A block
  // whose importance is all zero (a token never seen, for row-weighted embeddings) also gets the
  // search without one: zero weights would leave ggml's weighted search nothing to fit.
  GridParams choose(const at::Tensor& w, const at::Tensor& importance = {}) const override;
  at::Tensor quantize(const at::Tensor& w, const GridParams& params) const override;
  at::Tensor dequantize(const at::Tensor& codes, const GridParams& params) const override;
  void quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                       at::Tensor& values) const override;
  // stored: uint8 [rows, blocks, bytes], each block's parameters as its type stores them.
  GridParams choose_stored(const at::Tensor& w, const at::Tensor& importance, at::Tensor& stored) const override;
  std::shared_ptr<const Grid> bind(const at::Tensor& stored) const override;
  const at::Tensor& stored() const override { return stored_; }
  // The scale and zero of every sub-block [rows, groups] as the bound blocks decode them.
  GridParams stored_params() const;

 private:
  const gguf_blocks::BlockGridCodec* codec_;
  int64_t block_values_;
  at::Tensor stored_;
};

// The GGUF tensor data (rows of blocks) of a layer solved on a GgufBlockGrid in column order (its
// grid bound to the blocks' stored parameters).
std::vector<uint8_t> pack_block_grid_tensor(const QuantizedLinear& layer);

// The grid bound to the stored parameters of a tensor's GGUF data (`rows` rows of `columns`
// values of `type`, as a file holds them): what the blocks keep besides their levels.
std::shared_ptr<const GgufBlockGrid> block_grid_of_tensor_data(GgmlType type, const uint8_t* data, int64_t rows,
                                                               int64_t columns);

// w [rows, columns] levelled on a bound grid's stored parameters, in column order: the codes
// ggml's encoder would give w if its search had chosen those parameters. pack_block_grid_tensor()
// of the result writes the blocks; its dequantize() is what they decode to.
QuantizedLinear level_on_bound_grid(const std::shared_ptr<const GgufBlockGrid>& grid, const at::Tensor& w);

}  // namespace mp
