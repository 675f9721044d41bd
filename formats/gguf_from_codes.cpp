#include "formats/gguf_from_codes.h"

#include "formats/gguf_block_grid.h"
#include "formats/gguf_codecs.h"
#include "quant/affine_grid.h"

namespace mp {

namespace {

constexpr int64_t kBlock = 32;  // q4_0 / q4_1 block

// Empty when every 32-column block of the layer shares one (scale, zero), else the reason.
std::string blocks_mix_groups(const QuantizedLinear& q) {
  const at::Tensor g = q.g_idx.to(at::kInt).reshape({-1, kBlock});
  if (at::equal(g, g.narrow(1, 0, 1).expand_as(g))) return "";
  if (!q.groups_in_column_order())
    return "act-order (desc_act) groups are not contiguous, so 32-value blocks mix groups";
  return "group size " + std::to_string(q.group_size()) + " is not a multiple of 32";
}

std::string why_not(const QuantizedLinear& q, GgmlType type) {
  if (type != GgmlType::Q4_0 && type != GgmlType::Q4_1)
    return std::string("the tensor is ") + ggml_type_name(type) + ", only q4_0 and q4_1 hold the codes as they are";
  if (q.bits() != 4) return std::to_string(q.bits()) + "-bit codes";
  if (!dynamic_cast<const AffineGrid*>(q.grid.get())) return "not an affine grid";
  if (q.in_features() % kBlock != 0) return "rows are not whole 32-value blocks";
  if (std::string mixed = blocks_mix_groups(q); !mixed.empty()) return mixed;
  if (type == GgmlType::Q4_0 && !at::equal(q.zeros, at::full_like(q.zeros, 8.0)))
    return "zero points other than 8 (asymmetric): q4_0 has none, q4_1 would keep them";
  return "";
}

}  // namespace

GgufCodeCopy copy_codes_to_gguf(const QuantizedLinear& q, GgmlType type) {
  GgufCodeCopy copy;
  // Solved on the type's own grid: its blocks as they are (lossless by construction).
  if (const auto* grid = dynamic_cast<const GgufBlockGrid*>(q.grid.get()); grid && grid->type() == type) {
    copy.bytes = pack_block_grid_tensor(q);
    return copy;
  }
  copy.why_not = why_not(q, type);
  if (!copy.why_not.empty()) return copy;
  const int64_t rows = q.out_features(), n = q.in_features(), blocks = n / kBlock;
  const uint64_t row_bytes = ggml_row_bytes(type, n);
  const at::Tensor block_group = q.g_idx.to(at::kLong).reshape({blocks, kBlock}).select(1, 0).contiguous();
  const at::Tensor d = q.scales.index_select(1, block_group).contiguous();  // [rows, blocks]
  const at::Tensor m = (-q.scales * q.zeros).index_select(1, block_group).contiguous();
  const at::Tensor levels = q.codes.to(at::kByte).contiguous();
  copy.bytes.resize(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r)
    pack_row_levels(type, d.data_ptr<float>() + r * blocks, m.data_ptr<float>() + r * blocks,
                    levels.data_ptr<uint8_t>() + r * n, copy.bytes.data() + r * row_bytes, n);
  // What llama.cpp will compute from these bytes, against what the checkpoint means.
  at::Tensor decoded = at::empty({rows, n}, at::kFloat);
  for (int64_t r = 0; r < rows; ++r)
    dequantize_row(type, copy.bytes.data() + r * row_bytes, decoded.data_ptr<float>() + r * n, n);
  copy.max_error = rows > 0 && n > 0 ? (decoded - q.dequantize()).abs().max().item<double>() : 0.0;
  return copy;
}

}  // namespace mp
