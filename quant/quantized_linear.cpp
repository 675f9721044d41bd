#include "quant/quantized_linear.h"

#include "lib/base/error.h"

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

QuantizedLinear pad_quantized_linear(const QuantizedLinear& q, int64_t out_multiple, int64_t in_multiple) {
  auto round_up = [](int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; };
  const int64_t out = q.out_features(), in = q.in_features();
  const int64_t out_p = round_up(out, out_multiple), in_p = round_up(in, in_multiple);
  if (out_p == out && in_p == in) return q;
  QuantizedLinear p = q;
  const double midpoint = static_cast<double>(int64_t{1} << (q.bits() - 1));
  p.codes = at::constant_pad_nd(q.codes, {0, in_p - in, 0, out_p - out}, 0);
  p.scales = at::constant_pad_nd(q.scales, {0, 0, 0, out_p - out}, 1.0);
  p.zeros = at::constant_pad_nd(q.zeros, {0, 0, 0, out_p - out}, midpoint);
  p.g_idx = at::cat({q.g_idx, q.g_idx.narrow(0, in - 1, 1).expand({in_p - in})});
  return p;
}

QuantizedLinear crop_quantized_linear(const QuantizedLinear& q, int64_t out, int64_t in) {
  if (q.out_features() == out && q.in_features() == in) return q;
  QuantizedLinear c = q;
  c.codes = q.codes.narrow(0, 0, out).narrow(1, 0, in).contiguous();
  c.scales = q.scales.narrow(0, 0, out).contiguous();
  c.zeros = q.zeros.narrow(0, 0, out).contiguous();
  c.g_idx = q.g_idx.narrow(0, 0, in).contiguous();
  return c;
}

}  // namespace mp
