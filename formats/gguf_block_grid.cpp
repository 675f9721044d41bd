#include "formats/gguf_block_grid.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "formats/gguf_block_io.h"
#include "lib/base/error.h"

namespace mp {

namespace {

using gguf_blocks::BlockGridCodec;

const BlockGridCodec* find_grid_codec(GgmlType type) {
  static const std::vector<BlockGridCodec> codecs = [] {
    std::vector<BlockGridCodec> all;
    for (auto list : {gguf_blocks::legacy_quant_grids, gguf_blocks::kquant_2_3bit_grids,
                      gguf_blocks::kquant_4_6bit_grids, gguf_blocks::iq4_grids})
      for (const BlockGridCodec& codec : list()) all.push_back(codec);
    return all;
  }();
  for (const BlockGridCodec& codec : codecs)
    if (codec.type == type) return &codec;
  return nullptr;
}

// The code of x on a sub-block's grid: the level whose decoded value is nearest (ggml's rounding,
// ties to even, clamped; a non-uniform table's nearest entry). With scale 0 every level decodes to
// −zero and the grid writes the level of 0.
int level_of(const BlockGridCodec& codec, float x, float scale, float zero) {
  if (codec.levels)
    return gguf_blocks::nearest_table_index(codec.levels, codec.max_level + 1, scale ? (x + zero) / scale : 0.0f);
  if (!scale) return codec.offset;
  const int level = gguf_blocks::nearest_int((x + zero) / scale) + codec.offset;
  return level < 0 ? 0 : level > codec.max_level ? codec.max_level : level;
}

// The decoder's arithmetic: scale·(L − offset) − zero, or scale·levels[L] − zero.
float value_of(const BlockGridCodec& codec, int level, float scale, float zero) {
  return scale * static_cast<float>(codec.levels ? codec.levels[level] : level - codec.offset) - zero;
}

}  // namespace

bool has_block_grid(GgmlType type) { return find_grid_codec(type) != nullptr; }

bool has_stored_block_params(GgmlType type) {
  const BlockGridCodec* codec = find_grid_codec(type);
  return codec && codec->header_of && codec->sub_blocks;
}

GgufBlockGrid::GgufBlockGrid(GgmlType type, at::Tensor stored)
    : codec_(find_grid_codec(type)), block_values_(ggml_type_info(type).block_size), stored_(std::move(stored)) {
  if (!codec_) fail_runtime(std::string("GPTQ cannot solve on ggml type ") + ggml_type_name(type) + " yet");
}

GgmlType GgufBlockGrid::type() const { return codec_->type; }
int GgufBlockGrid::bits() const { return static_cast<int>(std::ceil(std::log2(codec_->max_level + 1))); }
int64_t GgufBlockGrid::group_size() const { return codec_->sub_values; }
int64_t GgufBlockGrid::choose_span() const { return block_values_; }
bool GgufBlockGrid::symmetric() const { return codec_->offset != 0 || codec_->levels; }

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
  const float* values = x.data_ptr<float>();
  const float* importances = imp.defined() ? imp.data_ptr<float>() : nullptr;
  uint8_t* headers = stored.data_ptr<uint8_t>();
  float *scales = params.scale.data_ptr<float>(), *zeros = params.zero.data_ptr<float>();
  // Blocks are chosen independently (the k-quant searches are most of GPTQ-in-grid's solve), so
  // rows split across threads without changing a bit.
  at::parallel_for(0, rows, 16, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t at_value = r * span + b * block_values_, at_sub = r * blocks * subs + b * subs;
        const float* block_importance = importances ? importances + at_value : nullptr;
        if (block_importance &&
            std::all_of(block_importance, block_importance + block_values_, [](float v) { return v == 0; }))
          block_importance = nullptr;
        codec_->choose(values + at_value, block_importance, headers + (r * blocks + b) * codec_->header_bytes,
                       scales + at_sub, zeros + at_sub);
      }
  });
  return params;
}

// Elementwise, in float arithmetic as ggml's decoders compute, so the codes are the nearest levels
// to w on the grid the decoder will read.
at::Tensor GgufBlockGrid::quantize(const at::Tensor& w, const GridParams& params) const {
  const at::Tensor x = w.to(at::kFloat).contiguous();
  const at::Tensor scale = params.scale.expand_as(x).contiguous(), zero = params.zero.expand_as(x).contiguous();
  at::Tensor codes = at::empty(x.sizes(), at::kInt);
  const float *xs = x.data_ptr<float>(), *s = scale.data_ptr<float>(), *z = zero.data_ptr<float>();
  int32_t* c = codes.data_ptr<int32_t>();
  for (int64_t i = 0; i < x.numel(); ++i) c[i] = level_of(*codec_, xs[i], s[i], z[i]);
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
  for (int64_t i = 0; i < c.numel(); ++i) v[i] = value_of(*codec_, cs[i], s[i], z[i]);
  return values;
}

// One loop over raw floats: GPTQ calls this once per column.
void GgufBlockGrid::quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                                    at::Tensor& values) const {
  const int64_t rows = w.size(0);
  const at::Tensor scale = params.scale.reshape({rows}).contiguous(), zero = params.zero.reshape({rows}).contiguous();
  const float *x = w.data_ptr<float>(), *s = scale.data_ptr<float>(), *z = zero.data_ptr<float>();
  int32_t* c = codes.data_ptr<int32_t>();
  float* v = values.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) {
    c[r] = level_of(*codec_, x[r], s[r], z[r]);
    v[r] = value_of(*codec_, c[r], s[r], z[r]);
  }
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
  if (!stored_.defined() || !codec_->sub_blocks) fail_runtime("ggml block grid: no stored parameters to decode");
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
  if (!has_stored_block_params(type))
    fail_runtime(std::string("ggml type ") + ggml_type_name(type) + " has no block grid with readable parameters");
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
