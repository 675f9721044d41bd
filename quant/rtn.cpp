#include "quant/rtn.h"

#include "lib/base/error.h"

namespace mp {

QuantizedLinear quantize_rtn(const at::Tensor& w, std::shared_ptr<const Grid> grid,
                             const at::Tensor& importance) {
  if (w.dim() != 2) fail_runtime("quantize_rtn: weight must be 2-D");
  const at::Tensor weight = w.to(at::kFloat);
  const GridParams params = grid->choose(weight, importance);
  const at::Tensor g_idx = grid->sequential_groups(weight.size(1));
  at::Tensor codes = grid->quantize(weight, params.for_columns(g_idx));
  return {codes, params.scale, params.zero, g_idx, std::move(grid)};
}

}  // namespace mp
