#include "quant/pack_awq.h"

#include "lib/base/error.h"
#include "quant/affine_grid.h"
#include "quant/bit_packing.h"

namespace mp {
namespace {

constexpr int kAwqBits = 4;

// Reorders the columns of x [rows, out] within each run of 8 by `order`.
at::Tensor reorder_runs_of_8(const at::Tensor& x, const at::Tensor& order) {
  const int64_t rows = x.size(0), out = x.size(1);
  return x.reshape({rows, out / 8, 8}).index_select(2, order).reshape({rows, out});
}

at::Tensor pack_order() {
  return at::tensor(at::ArrayRef<int64_t>(kAwqPackOrder.data(), kAwqPackOrder.size()), at::kLong);
}

}  // namespace

AwqTensors pack_awq(const QuantizedLinear& layer) {
  if (layer.bits() != kAwqBits) fail_runtime("AWQ GEMM packing stores 4 bits only");
  if (layer.out_features() % 8 != 0) fail_runtime("AWQ GEMM packing needs out divisible by 8");
  if (!layer.groups_in_column_order())
    fail_runtime("AWQ checkpoints cannot store act-order groups");
  const at::Tensor scales = layer.scales.to(at::kHalf);
  if (!at::equal(scales.to(at::kFloat), layer.scales))
    fail_runtime("AWQ packing: scales are not fp16 values; quantize with fp16 scales");
  const at::Tensor order = pack_order();
  return {pack_bits(reorder_runs_of_8(layer.codes.t(), order), kAwqBits, 1),
          pack_bits(reorder_runs_of_8(layer.integer_zeros().t(), order), kAwqBits, 1),
          scales.t().contiguous()};
}

QuantizedLinear unpack_awq(const AwqTensors& tensors, int64_t group_size) {
  const int64_t in = tensors.qweight.size(0), out = tensors.scales.size(1);
  const at::Tensor unorder = at::argsort(pack_order());
  AffineGridOptions options;
  options.bits = kAwqBits;
  options.group_size = group_size;
  auto grid = std::make_shared<AffineGrid>(options);
  at::Tensor g_idx = grid->sequential_groups(in);
  return {
      reorder_runs_of_8(unpack_bits(tensors.qweight, kAwqBits, 1, out), unorder).t().contiguous(),
      tensors.scales.to(at::kFloat).t().contiguous(),
      reorder_runs_of_8(unpack_bits(tensors.qzeros, kAwqBits, 1, out), unorder)
          .to(at::kFloat)
          .t()
          .contiguous(),
      g_idx, std::move(grid)};
}

}  // namespace mp
