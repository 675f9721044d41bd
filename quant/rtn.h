// Round-to-nearest: every weight goes to its nearest code on the grid, groups in column order.
#pragma once
#include "quant/quantized_linear.h"

namespace mp {

// w: [out, in] float. importance: optional [in] column weights handed to the grid's search.
QuantizedLinear quantize_rtn(const at::Tensor& w, std::shared_ptr<const Grid> grid,
                             const at::Tensor& importance = {});

}  // namespace mp
