// A Grid says how a group of weights maps to integer codes and back. RTN, GPTQ and AWQ only talk
// to a Grid; output formats only read what a Grid chose. A weight matrix W [rows, columns] is cut
// along its input columns into groups of `group_size` (the last one ragged when the row length is
// not a multiple; -1 = one group per row) and every (row, group) gets its own parameters.
//
// The shape leaves room for GGUF block types: choose() sees a whole span of columns of all rows at
// once, so a two-level grid (Q4_K: 256-wide super-blocks whose sub-block scales are quantized
// again) can look at its super-block, and dequantize() maps codes through the grid, so a
// non-uniform grid (IQ4_NL: a 16-entry table times a scale) only changes that mapping.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mp {

// Parameters of the groups of a span, as they will be stored: scale [rows, groups] f32 holding
// values exactly representable in the storage type, zero [rows, groups] f32 (integer-valued for
// grids with integer zero points, which is what HF GPTQ and AWQ checkpoints store).
struct GridParams {
  at::Tensor scale;
  at::Tensor zero;

  int64_t rows() const { return scale.size(0); }
  int64_t groups() const { return scale.size(1); }
  // The parameters of each column: [rows, columns], column c taking group group_of_column[c].
  GridParams for_columns(const at::Tensor& group_of_column) const;
  // The parameters of group g only: [rows, 1].
  GridParams group(int64_t g) const;
};

// Joins the parameters of consecutive spans along the group dimension.
GridParams concat_groups(const std::vector<GridParams>& parts);

class Grid {
 public:
  virtual ~Grid() = default;

  virtual int bits() const = 0;
  int64_t max_code() const { return (int64_t{1} << bits()) - 1; }
  // Columns sharing one (scale, zero); -1 means the whole row.
  virtual int64_t group_size() const = 0;
  // True when the zero point is fixed (w = 0 sits on a code for every scale), as HF GPTQ's "sym".
  virtual bool symmetric() const = 0;

  // Parameters for w [rows, span], cut into groups of group_size() starting at the span's first
  // column (the last group ragged). `importance` is optional, [span] or [rows, span], non-negative:
  // how much an error in each column costs (e.g. diag(H) or activation magnitudes).
  virtual GridParams choose(const at::Tensor& w, const at::Tensor& importance = {}) const = 0;
  // Integer codes int32 of w [rows, k]; params broadcast against w ([rows, 1] or [rows, k]).
  virtual at::Tensor quantize(const at::Tensor& w, const GridParams& params) const = 0;
  // The f32 weights the codes stand for.
  virtual at::Tensor dequantize(const at::Tensor& codes, const GridParams& params) const = 0;
  // quantize() and dequantize() of one column w [rows] f32 contiguous with params [rows, 1], into
  // codes [rows] int32 and values [rows] f32 (both contiguous): the same numbers, for callers that
  // go a column at a time (GPTQ), where a few operations on a few thousand values cost more in
  // dispatch than in arithmetic. The default goes through quantize() and dequantize().
  virtual void quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                               at::Tensor& values) const;

  // Groups in a row of `columns` and the group of every column when groups run in column order.
  int64_t group_count(int64_t columns) const;
  at::Tensor sequential_groups(int64_t columns) const;  // int32 [columns]
};

}  // namespace mp
