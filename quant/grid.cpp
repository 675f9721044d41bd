#include "quant/grid.h"

namespace mp {

GridParams GridParams::for_columns(const at::Tensor& group_of_column) const {
  const at::Tensor index = group_of_column.to(at::kLong);
  return {scale.index_select(1, index), zero.index_select(1, index)};
}

GridParams GridParams::group(int64_t g) const {
  return {scale.slice(1, g, g + 1), zero.slice(1, g, g + 1)};
}

GridParams concat_groups(const std::vector<GridParams>& parts) {
  std::vector<at::Tensor> scales, zeros;
  for (const GridParams& part : parts) {
    scales.push_back(part.scale);
    zeros.push_back(part.zero);
  }
  return {at::cat(scales, 1), at::cat(zeros, 1)};
}

void Grid::quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                           at::Tensor& values) const {
  const at::Tensor column_codes = quantize(w.unsqueeze(1), params);
  codes.copy_(column_codes.squeeze(1));
  values.copy_(dequantize(column_codes, params).squeeze(1));
}

int64_t Grid::group_count(int64_t columns) const {
  const int64_t size = group_size();
  if (size == -1) return 1;
  return (columns + size - 1) / size;
}

at::Tensor Grid::sequential_groups(int64_t columns) const {
  const int64_t size = group_size();
  if (size == -1) return at::zeros({columns}, at::kInt);
  return at::div(at::arange(columns, at::kLong), size, "floor").to(at::kInt);
}

}  // namespace mp
