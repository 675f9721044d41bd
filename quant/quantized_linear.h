// A linear layer's weight after quantization: integer codes plus the parameters of the grid that
// produced them. Output formats (HF GPTQ, AWQ, GGUF) read this; they never run an algorithm.
#pragma once
#include <ATen/ATen.h>

#include <memory>

#include "quant/grid.h"

namespace mp {

struct QuantizedLinear {
  at::Tensor codes;   // int32 [out, in]
  at::Tensor scales;  // f32 [out, groups], values as stored
  at::Tensor zeros;   // f32 [out, groups], integer-valued for integer-zero grids
  at::Tensor g_idx;   // int32 [in]: the group of every input column
  std::shared_ptr<const Grid> grid;

  int bits() const { return grid->bits(); }
  int64_t group_size() const { return grid->group_size(); }
  bool sym() const { return grid->symmetric(); }
  int64_t out_features() const { return codes.size(0); }
  int64_t in_features() const { return codes.size(1); }
  int64_t groups() const { return scales.size(1); }
  GridParams params() const { return {scales, zeros}; }
  // The f32 weight [out, in] the codes stand for.
  at::Tensor dequantize() const;
  // zeros as int32; fails when a zero point is not an integer (a grid with float minimums).
  at::Tensor integer_zeros() const;
  // True when g_idx is i / group_size, i.e. the groups run in column order (no act-order).
  bool groups_in_column_order() const;
};

// Zero codes appended so out and in become multiples of the given numbers (padded rows get scale 1
// and the midpoint zero; padded columns join the last group): packed formats need whole words, and
// readers cut the padding off using the model's configured shapes.
QuantizedLinear pad_quantized_linear(const QuantizedLinear& q, int64_t out_multiple, int64_t in_multiple);
// The first `out` rows and `in` columns: what a reader keeps of a padded layer.
QuantizedLinear crop_quantized_linear(const QuantizedLinear& q, int64_t out, int64_t in);

}  // namespace mp
