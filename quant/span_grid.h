// A Grid whose choose() fixes the parameters of several consecutive groups at once and stores
// them in a form of its own: a ggml k-quant super-block (formats/gguf_block_grid.h) has 256
// columns whose sub-block scales are integers times one fp16 scale. GPTQ chooses such a grid's
// parameters at the first column of each span, and hands the stored forms of all spans back to
// the grid, which returns itself bound to them: the grid of the finished QuantizedLinear.
#pragma once
#include "quant/grid.h"

namespace mp {

class SpanGrid : public Grid {
 public:
  // Columns one choose() covers, a multiple of group_size().
  virtual int64_t choose_span() const = 0;
  // choose() that also returns the stored form of the span's parameters [rows, ...].
  virtual GridParams choose_stored(const at::Tensor& w, const at::Tensor& importance, at::Tensor& stored) const = 0;
  // This grid with the stored forms of every span of a layer, in column order (joined along dim 1).
  virtual std::shared_ptr<const Grid> bind(const at::Tensor& stored) const = 0;
  // The stored forms this grid is bound to [rows, ...], undefined for a grid yet to be used. Rows
  // are independent: the stored forms of a layer solved a range of rows at a time join along dim 0.
  virtual const at::Tensor& stored() const = 0;
};

}  // namespace mp
