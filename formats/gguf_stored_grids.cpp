#include "formats/gguf_stored_grids.h"

#include <ATen/Parallel.h>

#include <cstring>

#include "formats/gguf_codecs.h"
#include "formats/gguf_file.h"
#include "formats/gguf_llama_names.h"
#include "lib/base/error.h"

namespace mp {

StoredGrids read_stored_grids(const std::string& path, const ModelConfig& config,
                              const std::map<std::string, GgmlType>& types) {
  if (!is_gguf_file(path)) fail_input(path, "not a GGUF file, so it stores no block parameters to keep");
  const GgufFile file(path);
  StoredGrids grids;
  for (const LlamaTensorName& name : llama_tensor_names(config)) {
    const auto wanted = types.find(name.hf);
    if (wanted == types.end() || !has_stored_block_params(wanted->second) || name.shape.size() != 2) continue;
    const GgufTensorInfo* info = file.find_tensor(name.gguf);
    if (!info || info->type != wanted->second || info->shape() != name.shape) continue;
    std::shared_ptr<const GgufBlockGrid> grid =
        block_grid_of_tensor_data(info->type, file.bytes(*info), name.shape[0], name.shape[1]);
    // The file holds llama's q/k rows in llama.cpp's order; the stored rows move with them.
    if (name.permute_heads > 0)
      grid = std::make_shared<GgufBlockGrid>(info->type, gguf_to_hf_rows(grid->stored(), name.permute_heads));
    grids[name.hf] = grid;
  }
  return grids;
}

namespace {

// Sum of squared differences of every `span` consecutive values, in a fixed order (doubles), so
// the same weights always pick the same blocks whatever the thread count.
std::vector<double> block_squared_errors(const at::Tensor& w, const at::Tensor& q, int64_t span) {
  const float *a = w.data_ptr<float>(), *b = q.data_ptr<float>();
  std::vector<double> err(static_cast<size_t>(w.numel() / span), 0.0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    err[static_cast<size_t>(i / span)] += d * d;
  }
  return err;
}

}  // namespace

std::shared_ptr<const GgufBlockGrid> better_grid_per_block(const std::shared_ptr<const GgufBlockGrid>& stored,
                                                           const at::Tensor& w) {
  const at::Tensor x = w.detach().to(at::kCPU, at::kFloat).contiguous();
  const int64_t rows = x.size(0), columns = x.size(1);
  const GgmlType type = stored->type();
  // The encoder's own parameters for x: encode every row, read the blocks' headers back.
  const uint64_t row_bytes = ggml_row_bytes(type, columns);
  std::vector<uint8_t> bytes(row_bytes * rows);
  const float* src = x.data_ptr<float>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) quantize_row(type, src + r * columns, bytes.data() + r * row_bytes, columns);
  });
  const std::shared_ptr<const GgufBlockGrid> chosen = block_grid_of_tensor_data(type, bytes.data(), rows, columns);

  const int64_t span = stored->choose_span();
  const std::vector<double> err_stored = block_squared_errors(x, level_on_bound_grid(stored, x).dequantize().contiguous(), span);
  const std::vector<double> err_chosen = block_squared_errors(x, level_on_bound_grid(chosen, x).dequantize().contiguous(), span);
  at::Tensor merged = stored->stored().contiguous().clone();
  const at::Tensor from = chosen->stored().contiguous();
  const int64_t header = merged.size(2);
  for (size_t b = 0; b < err_stored.size(); ++b)
    if (err_chosen[b] < err_stored[b])
      std::memcpy(merged.data_ptr<uint8_t>() + b * header, from.data_ptr<uint8_t>() + b * header, header);
  return std::make_shared<GgufBlockGrid>(type, merged);
}

at::Tensor StoredGridModel::tensor(const std::string& name) const {
  return grids_.count(name) ? quantized_linear(name)->dequantize() : base_.tensor(name);
}

std::optional<QuantizedLinear> StoredGridModel::quantized_linear(const std::string& name) const {
  const auto it = grids_.find(name);
  if (it == grids_.end()) return base_.quantized_linear(name);
  const at::Tensor w = base_.tensor(name);
  return level_on_bound_grid(per_block_better_ ? better_grid_per_block(it->second, w) : it->second, w);
}

}  // namespace mp
