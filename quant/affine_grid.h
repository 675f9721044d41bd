// The uniform affine grid of GPTQ and AWQ checkpoints: w ≈ scale · (q − zero), q in [0, 2^bits −
// 1]. Symmetric grids fix zero at 2^(bits−1); asymmetric grids place it so the group's range is
// covered. The range is taken from min and max (always including 0, so 0 stays exact), optionally
// shrunk by the MSE clipping search of GPTQ's find_params(mse=True): try shrink factors
// 1, 1 − 1/steps, ... down to 1 − max_shrink and keep, per group, the one with the smallest
// Σ importance · |w − ŵ|^norm.
#pragma once
#include "quant/grid.h"

namespace mp {

enum class RangeSearch { min_max, mse };

struct AffineGridOptions {
  int bits = 4;              // 2..8
  int64_t group_size = 128;  // -1: one group per row
  bool sym = false;
  RangeSearch search = RangeSearch::min_max;
  double mse_norm = 2.4;        // the exponent GPTQ's reference search uses
  int mse_steps = 100;          // shrink factors are 1 − i/mse_steps ...
  double mse_max_shrink = 0.8;  // ... for i < mse_max_shrink · mse_steps
  // Scales are rounded to this type before the zero point and the codes are computed from them,
  // so a checkpoint storing fp16 scales reproduces exactly what the algorithm used.
  at::ScalarType scale_type = at::kHalf;
};

class AffineGrid : public Grid {
 public:
  explicit AffineGrid(const AffineGridOptions& options);

  const AffineGridOptions& options() const { return options_; }
  int bits() const override { return options_.bits; }
  int64_t group_size() const override { return options_.group_size; }
  bool symmetric() const override { return options_.sym; }

  GridParams choose(const at::Tensor& w, const at::Tensor& importance = {}) const override;
  at::Tensor quantize(const at::Tensor& w, const GridParams& params) const override;
  at::Tensor dequantize(const at::Tensor& codes, const GridParams& params) const override;
  void quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                       at::Tensor& values) const override;

  // Σ importance · |w − ŵ|^mse_norm per row of w [n, len] with params [n, 1]: what the MSE search
  // minimises. importance is [len], [n, len] or undefined (all ones).
  at::Tensor group_error(const at::Tensor& w, const GridParams& params,
                         const at::Tensor& importance) const;

 private:
  // The MSE search (GPTQ's find_params(mse=True)) for one group per row of w [n, len] whose full
  // range is [low, high] ([n, 1]): params [n, 1].
  GridParams search_range(const at::Tensor& w, const at::Tensor& importance, const at::Tensor& low,
                          const at::Tensor& high) const;
  GridParams params_for_range(const at::Tensor& low, const at::Tensor& high) const;

  AffineGridOptions options_;
};

}  // namespace mp
