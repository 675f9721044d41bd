#include "quant/quantized_linear.h"

#include "lib/error.h"

namespace mp {

at::Tensor QuantizedLinear::dequantize() const {
  return grid->dequantize(codes, params().for_columns(g_idx));
}

at::Tensor QuantizedLinear::integer_zeros() const {
  const at::Tensor rounded = at::round(zeros);
  if (!at::equal(rounded, zeros)) fail_runtime("quantized layer has non-integer zero points");
  return rounded.to(at::kInt);
}

bool QuantizedLinear::groups_in_column_order() const {
  return at::equal(g_idx.to(at::kInt), grid->sequential_groups(in_features()));
}

}  // namespace mp
