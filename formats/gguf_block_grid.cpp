#include "formats/gguf_block_grid.h"

#include <cmath>

#include "formats/gguf_block_io.h"
#include "lib/base/error.h"

namespace mp {

namespace {

using gguf_blocks::BlockGridCodec;

const BlockGridCodec* find_grid_codec(GgmlType type) {
  static const std::vector<BlockGridCodec> codecs = [] {
    std::vector<BlockGridCodec> all = gguf_blocks::kquant_2_3bit_grids();
    for (const BlockGridCodec& codec : gguf_blocks::kquant_4_6bit_grids()) all.push_back(codec);
    return all;
  }();
  for (const BlockGridCodec& codec : codecs)
    if (codec.type == type) return &codec;
  return nullptr;
}

}  // namespace

bool has_block_grid(GgmlType type) { return find_grid_codec(type) != nullptr; }

GgufBlockGrid::GgufBlockGrid(GgmlType type, at::Tensor stored)
    : codec_(find_grid_codec(type)), block_values_(ggml_type_info(type).block_size), stored_(std::move(stored)) {
  if (!codec_) fail_runtime(std::string("GPTQ cannot solve on ggml type ") + ggml_type_name(type) + " yet");
}

GgmlType GgufBlockGrid::type() const { return codec_->type; }
int GgufBlockGrid::bits() const { return static_cast<int>(std::ceil(std::log2(codec_->max_level + 1))); }
int64_t GgufBlockGrid::group_size() const { return codec_->sub_values; }
int64_t GgufBlockGrid::choose_span() const { return block_values_; }
bool GgufBlockGrid::symmetric() const { return codec_->offset != 0; }

GridParams GgufBlockGrid::choose(const at::Tensor& w, const at::Tensor& importance) const {
  at::Tensor stored;
  return choose_stored(w, importance, stored);
}

std::shared_ptr<const Grid> GgufBlockGrid::bind(const at::Tensor& stored) const {
  return std::make_shared<GgufBlockGrid>(codec_->type, stored);
}

GridParams GgufBlockGrid::choose_stored(const at::Tensor& w, const at::Tensor& importance, at::Tensor& stored) const {
  const int64_t rows = w.size(0), span = w.size(1);
  if (span % block_values_ != 0) fail_runtime("ggml block grid: a span must be whole blocks");
  const int64_t blocks = span / block_values_, subs = block_values_ / codec_->sub_values;
  const at::Tensor x = w.to(at::kFloat).contiguous();
  const at::Tensor imp =
      importance.defined() ? importance.to(at::kFloat).expand({rows, span}).contiguous() : at::Tensor();
  GridParams params{at::empty({rows, blocks * subs}, at::kFloat), at::empty({rows, blocks * subs}, at::kFloat)};
  stored = at::empty({rows, blocks, codec_->header_bytes}, at::kByte);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t at_value = r * span + b * block_values_, at_sub = r * blocks * subs + b * subs;
      codec_->choose(x.data_ptr<float>() + at_value, imp.defined() ? imp.data_ptr<float>() + at_value : nullptr,
                     stored.data_ptr<uint8_t>() + (r * blocks + b) * codec_->header_bytes,
                     params.scale.data_ptr<float>() + at_sub, params.zero.data_ptr<float>() + at_sub);
    }
  return params;
}

// Elementwise with ggml's rounding (ties to even) and float arithmetic, so the codes are the ones
// the type's encoder picks for the same parameters.
at::Tensor GgufBlockGrid::quantize(const at::Tensor& w, const GridParams& params) const {
  const at::Tensor x = w.to(at::kFloat).contiguous();
  const at::Tensor scale = params.scale.expand_as(x).contiguous(), zero = params.zero.expand_as(x).contiguous();
  at::Tensor codes = at::empty(x.sizes(), at::kInt);
  const float *xs = x.data_ptr<float>(), *s = scale.data_ptr<float>(), *z = zero.data_ptr<float>();
  int32_t* c = codes.data_ptr<int32_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (!s[i]) {
      c[i] = codec_->offset;  // every level decodes to −zero
      continue;
    }
    const int level = gguf_blocks::nearest_int((xs[i] + z[i]) / s[i]) + codec_->offset;
    c[i] = level < 0 ? 0 : level > codec_->max_level ? codec_->max_level : level;
  }
  return codes;
}

at::Tensor GgufBlockGrid::dequantize(const at::Tensor& codes, const GridParams& params) const {
  const at::Tensor c = codes.to(at::kInt).contiguous();
  const at::Tensor scale = params.scale.expand(c.sizes()).contiguous(),
                   zero = params.zero.expand(c.sizes()).contiguous();
  at::Tensor values = at::empty(c.sizes(), at::kFloat);
  const int32_t* cs = c.data_ptr<int32_t>();
  const float *s = scale.data_ptr<float>(), *z = zero.data_ptr<float>();
  float* v = values.data_ptr<float>();
  for (int64_t i = 0; i < c.numel(); ++i) v[i] = s[i] * static_cast<float>(cs[i] - codec_->offset) - z[i];
  return values;
}

std::vector<uint8_t> pack_block_grid_tensor(const QuantizedLinear& layer) {
  const auto* grid = dynamic_cast<const GgufBlockGrid*>(layer.grid.get());
  if (!grid || !grid->stored().defined() || !layer.groups_in_column_order())
    fail_runtime("pack_block_grid_tensor: the layer was not solved on a ggml block grid in column order");
  const int64_t rows = layer.out_features(), columns = layer.in_features(), span = grid->choose_span();
  const int64_t blocks = columns / span, header_bytes = grid->stored().size(2);
  const uint64_t row_bytes = ggml_row_bytes(grid->type(), columns), block_bytes = row_bytes / blocks;
  const BlockGridCodec* codec = find_grid_codec(grid->type());
  std::vector<uint8_t> out(row_bytes * rows);
  const at::Tensor codes = layer.codes.to(at::kByte).contiguous(), stored = grid->stored().contiguous();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < blocks; ++b)
      codec->pack(stored.data_ptr<uint8_t>() + (r * blocks + b) * header_bytes,
                  codes.data_ptr<uint8_t>() + r * columns + b * span, out.data() + r * row_bytes + b * block_bytes);
  return out;
}

GridParams GgufBlockGrid::stored_params() const {
  if (!stored_.defined()) fail_runtime("ggml block grid: no stored parameters bound");
  const at::Tensor stored = stored_.contiguous();
  const int64_t rows = stored.size(0), blocks = stored.size(1), subs = block_values_ / codec_->sub_values;
  GridParams params{at::empty({rows, blocks * subs}, at::kFloat), at::empty({rows, blocks * subs}, at::kFloat)};
  for (int64_t b = 0; b < rows * blocks; ++b)
    codec_->sub_blocks(stored.data_ptr<uint8_t>() + b * codec_->header_bytes, params.scale.data_ptr<float>() + b * subs,
                       params.zero.data_ptr<float>() + b * subs);
  return params;
}

std::shared_ptr<const GgufBlockGrid> block_grid_of_tensor_data(GgmlType type, const uint8_t* data, int64_t rows,
                                                               int64_t columns) {
  const BlockGridCodec* codec = find_grid_codec(type);
  if (!codec) fail_runtime(std::string("ggml type ") + ggml_type_name(type) + " has no block grid");
  const int64_t block_values = ggml_type_info(type).block_size;
  if (columns % block_values != 0) fail_runtime("ggml block grid: a row must be whole blocks");
  const int64_t blocks = columns / block_values;
  const uint64_t block_bytes = ggml_row_bytes(type, columns) / blocks;
  at::Tensor stored = at::empty({rows, blocks, codec->header_bytes}, at::kByte);
  for (int64_t b = 0; b < rows * blocks; ++b)
    codec->header_of(data + b * block_bytes, stored.data_ptr<uint8_t>() + b * codec->header_bytes);
  return std::make_shared<GgufBlockGrid>(type, stored);
}

QuantizedLinear level_on_bound_grid(const std::shared_ptr<const GgufBlockGrid>& grid, const at::Tensor& w) {
  const GridParams params = grid->stored_params();
  if (w.dim() != 2 || params.scale.size(0) != w.size(0) || params.scale.size(1) * grid->group_size() != w.size(1))
    fail_runtime("ggml block grid: the weight's shape does not match the stored blocks");
  QuantizedLinear q;
  q.grid = grid;
  q.scales = params.scale;
  q.zeros = params.zero;
  q.g_idx = grid->sequential_groups(w.size(1));
  q.codes = grid->quantize(w, params.for_columns(q.g_idx));
  return q;
}

}  // namespace mp
